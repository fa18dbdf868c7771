// Builds the static site into dist/: the page's own files plus one bundled JS module with ably-js inside,
// so the published page loads nothing from a CDN and runs under a strict Content-Security-Policy.
import { build } from 'esbuild';
import { cp, mkdir, rm } from 'node:fs/promises';

const outdir = 'dist';
await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
await cp('client', outdir, {
  recursive: true,
  filter: (source) => !source.endsWith('.js') || source === 'client',
});
await build({
  entryPoints: ['client/app.js'],
  bundle: true,
  format: 'esm',
  minify: true,
  sourcemap: true,
  target: ['es2020'],
  outfile: `${outdir}/app.js`,
  logLevel: 'warning',
});
