// Bundles the reference function as Netlify ships a TypeScript function: zip-it-and-ship-it's esbuild settings
// (bundle, platform node, CommonJS, target the running Node), one file with ably-js inside it.
// Usage: node bench/node_reference/build.mjs OUTFILE
import { build } from 'esbuild';

const [outfile] = process.argv.slice(2);
await build({
  entryPoints: [new URL('./ably-token-request.ts', import.meta.url).pathname],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: [`node${process.versions.node.split('.')[0]}`],
  outfile,
  logLevel: 'warning',
});
