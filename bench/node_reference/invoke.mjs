// Benchmark driver for a CommonJS function entry (the bundled reference, or the Netlify Pyodide entry):
// `cold` answers one request and prints RESPONSE <status>; `warm N` calls the handler N times in-process and
// prints the mean microseconds per call, of wall time and of the process's CPU time. Reports go to stderr; the function's log lines go to stdout, which
// the benchmark sends to /dev/null.
import { createRequire } from 'node:module';

const [mode, entry, count] = process.argv.slice(2);
const event = JSON.parse(process.env.BENCH_EVENT);
const report = (line) => process.stderr.write(`${line}\n`);
const { handler } = createRequire(import.meta.url)(entry);

if (mode === 'cold') {
  const response = await handler(event, {});
  report(`RESPONSE ${response.statusCode}`);
} else {
  const n = Number(count);
  for (let i = 0; i < Math.min(n, 2000); i++) await handler(event, {});
  const [started, cpu] = [process.hrtime.bigint(), process.cpuUsage()];
  for (let i = 0; i < n; i++) await handler(event, {});
  const used = process.cpuUsage(cpu);
  report(`WARM_US ${Number(process.hrtime.bigint() - started) / 1000 / n} ${(used.user + used.system) / n}`);
}
