// Benchmark driver: `cold` answers one request and prints RESPONSE <status>;
// `warm N` calls the handler N times in-process and prints the mean microseconds per call.
const [mode, entry, count] = process.argv.slice(2);
const event = JSON.parse(process.env.BENCH_EVENT);
const { handler } = await import(entry);

if (mode === 'cold') {
  const response = await handler(event, {});
  process.stdout.write(`RESPONSE ${response.statusCode}\n`);
} else {
  const n = Number(count);
  for (let i = 0; i < Math.min(n, 2000); i++) await handler(event, {});
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await handler(event, {});
  const micros = Number(process.hrtime.bigint() - started) / 1000 / n;
  process.stdout.write(`WARM_US ${micros}\n`);
}
