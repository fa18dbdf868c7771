// Test driver for the Netlify entry: `node invoke_entry.mjs <entry.js>` reads a JSON array of
// [event, context] pairs on stdin, calls the entry's handler with each in one process (cold, then warm),
// and prints `RESULTS <json array of responses>` as its last line. The function's log lines come before it.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { text } from 'node:stream/consumers';

const entry = createRequire(import.meta.url)(resolve(process.argv[2]));
const calls = JSON.parse(await text(process.stdin));
const results = [];
for (const [event, context] of calls) results.push(await entry.handler(event, context));
process.stdout.write(`\nRESULTS ${JSON.stringify(results)}\n`);
