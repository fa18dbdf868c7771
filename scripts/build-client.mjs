// Builds the static site into dist/: the page's HTML, CSS and icon plus one bundled JS module (the page's
// modules and ably-js), so the published page loads nothing from a CDN and runs under a strict
// Content-Security-Policy.
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';

const outdir = 'dist';
await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
await Promise.all(['index.html', 'style.css', 'favicon.svg'].map((file) => copyFile(`client/${file}`, `${outdir}/${file}`)));
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
