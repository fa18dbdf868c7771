// Benchmark driver for a function entry: the bundled reference (a Lambda-style `handler(event, context)`) or
// the Netlify Pyodide entry (a v2 function: a web Request in, a Response out, whose body is read as Netlify's
// bootstrap reads it). `cold` answers one request and prints RESPONSE <status>; `warm N` calls the entry N
// times in-process and prints the mean microseconds per call, of wall time and of the process's CPU time.
// Reports go to stderr; the function's log lines go to stdout, which the benchmark sends to /dev/null.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [mode, entry, count] = process.argv.slice(2);
const event = JSON.parse(process.env.BENCH_EVENT);
const report = (line) => process.stderr.write(`${line}\n`);
const module = await import(pathToFileURL(resolve(entry)).href);
const lambdaHandler = module.handler ?? module.default?.handler;
const call = lambdaHandler
  ? async () => (await lambdaHandler(event, {})).statusCode
  : async () => {
      const response = await module.default(webRequest(event), { requestId: 'bench' });
      await response.text();
      return response.status;
    };

function webRequest({ httpMethod, headers, path, rawQuery }) {
  const query = rawQuery ? `?${rawQuery}` : '';
  return new Request(`https://${headers?.host ?? 'example.netlify.app'}${path ?? '/'}${query}`, {
    method: httpMethod,
    headers,
  });
}

if (mode === 'cold') {
  report(`RESPONSE ${await call()}`);
} else {
  const n = Number(count);
  for (let i = 0; i < Math.min(n, 2000); i++) await call();
  const [started, cpu] = [process.hrtime.bigint(), process.cpuUsage()];
  for (let i = 0; i < n; i++) await call();
  const used = process.cpuUsage(cpu);
  report(`WARM_US ${Number(process.hrtime.bigint() - started) / 1000 / n} ${(used.user + used.system) / n}`);
}
