// Test driver for the Netlify (v2) entry: `node invoke_entry.mjs <entry.mjs>` reads a JSON array of
// [event, context] pairs on stdin (the Lambda-style events the Python driver passes to handler.py), turns each
// into what Netlify's v2 bootstrap gives the entry (a web Request, a context with the request id, and the
// Identity user in globalThis.netlifyIdentityContext, as the bootstrap sets it from x-nf-identity-info), calls
// the entry in one process (cold, then warm), and prints `RESULTS <json array of responses>` as its last line,
// each response as {statusCode, headers (lower-case names), body}. The function's log lines come before it.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { text } from 'node:stream/consumers';

const { default: entry } = await import(pathToFileURL(resolve(process.argv[2])).href);
const calls = JSON.parse(await text(process.stdin));
const results = [];
for (const [event, context] of calls) {
  const identity = context?.clientContext?.user ? { user: context.clientContext.user } : null;
  Object.defineProperty(globalThis, 'netlifyIdentityContext', { value: identity, configurable: true });
  const response = await entry(webRequest(event), { requestId: context?.awsRequestId ?? 'driver-request' });
  results.push({
    statusCode: response.status,
    headers: Object.fromEntries(response.headers),
    body: await response.text(),
  });
}
process.stdout.write(`\nRESULTS ${JSON.stringify(results)}\n`);

function webRequest(event) {
  const query = event.rawQuery ? `?${event.rawQuery}` : '';
  const url = event.rawUrl ?? `https://${event.headers?.host ?? 'example.netlify.app'}${event.path ?? '/'}${query}`;
  const hasBody = event.body != null && event.body !== '' && !['GET', 'HEAD'].includes(event.httpMethod);
  const body = hasBody ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8') : undefined;
  return new Request(url, { method: event.httpMethod, headers: event.headers ?? {}, body });
}
