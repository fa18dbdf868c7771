// Prepares functions/ably-token-request/pyodide-bundle/ for the Netlify entry, so Pyodide needs no network at
// run time:
//   site-packages/ the wheels extracted, which the entry mounts (read on demand) when it starts from the snapshot.
//   wheels/        pure-Python wheels of requirements.txt. msgpack and websockets ship only compiled wheels, so
//                  they are built from source with their documented pure-Python switches (MSGPACK_PUREPYTHON,
//                  BUILD_EXTENSION=no); both packages fall back to their Python implementations.
//   snapshot.bin   a Pyodide memory snapshot taken after importing the third-party modules, signing a throwaway
//                  request and importing ably_token_request (never handler.py, which reads the environment at
//                  start-up: no configuration or key is baked in).
//   bundle.json    what is there, and the inputs it was made from; an unchanged input set skips the rebuild.
// Usage: node scripts/build-netlify-function.mjs [--no-snapshot]   (PYTHON picks the interpreter for pip)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import runtime from '../functions/ably-token-request/pyodide-runtime.js';

const { BUNDLE_DIR, FUNCTION_DIR, SNAPSHOT_SOURCES, SNAPSHOT_WARMUP, copySources, loadPythonRuntime } = runtime;

const withSnapshot = !process.argv.includes('--no-snapshot');
const python = process.env.PYTHON || 'python3';
const requirements = join(FUNCTION_DIR, 'requirements.txt');
const pyodideVersion = JSON.parse(await readFile(new URL('../node_modules/pyodide/package.json', import.meta.url), 'utf8')).version;
const inputs = createHash('sha256')
  .update(await readFile(requirements))
  .update(await readFile(new URL(import.meta.url)))
  .update(await readFile(join(FUNCTION_DIR, 'pyodide-runtime.js')))
  .update(`${pyodideVersion} snapshot=${withSnapshot}`)
  .update(await sourcesText())
  .digest('hex');

async function sourcesText() {
  const dir = join(FUNCTION_DIR, 'ably_token_request');
  const modules = (await readdir(dir)).filter((file) => file.endsWith('.py')).sort();
  return (await Promise.all(modules.map((file) => readFile(join(dir, file), 'utf8')))).join('\0');
}

const manifestPath = join(BUNDLE_DIR, 'bundle.json');
const previous = await readFile(manifestPath, 'utf8').then(JSON.parse, () => null);
if (previous?.inputs === inputs) {
  console.log(`pyodide-bundle is up to date (${previous.wheels.length} wheels, snapshot: ${previous.snapshot ?? 'none'})`);
  process.exit(0);
}

await rm(BUNDLE_DIR, { recursive: true, force: true });
const wheelDir = join(BUNDLE_DIR, 'wheels');
await mkdir(wheelDir, { recursive: true });
const pip = spawnSync(
  python,
  ['-m', 'pip', 'wheel', '--quiet', '--no-binary', 'msgpack,websockets', '-r', requirements, '-w', wheelDir],
  { stdio: 'inherit', env: { ...process.env, MSGPACK_PUREPYTHON: '1', BUILD_EXTENSION: 'no' } },
);
if (pip.status !== 0) throw new Error(`${python} -m pip wheel failed (exit ${pip.status})`);
const wheels = (await readdir(wheelDir)).filter((file) => file.endsWith('.whl')).sort();
const compiled = wheels.filter((wheel) => !/-py3-none-any\.whl$|-py2\.py3-none-any\.whl$/.test(wheel));
if (compiled.length) throw new Error(`not pure-Python, Pyodide cannot load them: ${compiled.join(', ')}`);

// The same wheels extracted, for the entry to mount instead of unpacking them at every cold start.
for (const wheel of wheels) {
  const unzip = spawnSync(python, ['-m', 'zipfile', '-e', join(wheelDir, wheel), join(BUNDLE_DIR, 'site-packages')], {
    stdio: 'inherit',
  });
  if (unzip.status !== 0) throw new Error(`could not extract ${wheel}`);
}

// Written first without `inputs` (the runtime reads the wheel list from it), and with them once complete.
const manifest = { pyodide: pyodideVersion, wheels, sitePackages: 'site-packages', snapshot: null };
await writeFile(manifestPath, JSON.stringify(manifest, null, 2));
if (withSnapshot) {
  const { py } = await loadPythonRuntime({ makeSnapshot: true });
  py.runPython(SNAPSHOT_WARMUP);
  await copySources(py);
  py.runPython(SNAPSHOT_SOURCES);
  await writeFile(join(BUNDLE_DIR, 'snapshot.bin'), py.makeMemorySnapshot());
  manifest.snapshot = 'snapshot.bin';
}
await writeFile(manifestPath, JSON.stringify({ inputs, ...manifest }, null, 2));
console.log(`pyodide-bundle: ${wheels.length} wheels, snapshot: ${manifest.snapshot ?? 'none'}`);
