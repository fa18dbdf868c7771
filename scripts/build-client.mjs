// Builds the static site into dist/: the page's HTML and CSS plus one bundled JS module with ably-js
// inside, so the published page loads nothing from a CDN and runs under a strict Content-Security-Policy.
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';

const outdir = 'dist';
await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
await Promise.all(['index.html', 'style.css'].map((file) => copyFile(`client/${file}`, `${outdir}/${file}`)));
await build({
  entryPoints: ['client/app.js'],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  minify: true,
  sourcemap: true,
  target: ['es2020'],
  outfile: `${outdir}/app.js`,
  logLevel: 'warning',
});
