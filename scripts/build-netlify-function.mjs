// Prepares functions/ably-token-request/pyodide-bundle/ for the Netlify entry, so Pyodide needs no network at
// run time:
//   site-packages/ requirements.txt's pure-Python wheels, extracted (the entry mounts them, read on demand).
//                  Installed with --no-deps: the function imports only what requirements.txt lists (ably's
//                  own dependencies, its realtime client's httpx, h2, websockets..., are never loaded).
//   snapshot.bin   a Pyodide memory snapshot taken after importing ably_token_request and signing a throwaway
//                  request (never handler.py, which reads the environment at start-up: no configuration or
//                  key is baked in).
//   bundle.json    what is there, the inputs it was made from (an unchanged input set skips the rebuild) and
//                  the Node that took the snapshot (`builtWith`), which the entry compares with its own.
// Usage: node scripts/build-netlify-function.mjs [--no-snapshot]   (PYTHON picks the interpreter for pip)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import runtime from '../functions/ably-token-request/pyodide-runtime.js';

const { BUNDLE_DIR, FUNCTION_DIR, SNAPSHOT_WARMUP, defineBridge, loadPythonRuntime, runtimeFingerprint } = runtime;

const withSnapshot = !process.argv.includes('--no-snapshot');
const python = process.env.PYTHON || 'python3';
const requirements = join(FUNCTION_DIR, 'requirements.txt');
const pyodideVersion = JSON.parse(await readFile(new URL('../node_modules/pyodide/package.json', import.meta.url), 'utf8')).version;
const inputs = createHash('sha256')
  .update(await readFile(requirements))
  .update(await readFile(new URL(import.meta.url)))
  .update(await readFile(join(FUNCTION_DIR, 'pyodide-runtime.js')))
  // A snapshot is tied to the Node that took it: building under another Node major builds a new one.
  .update(`${pyodideVersion} snapshot=${withSnapshot} node-modules=${process.versions.modules}`)
  .update(await sourcesText())
  .digest('hex');

/** The Python the snapshot holds: the package's modules, and handler.py's compiled code (see BRIDGE). */
async function sourcesText() {
  const dir = join(FUNCTION_DIR, 'ably_token_request');
  const modules = (await readdir(dir)).filter((file) => file.endsWith('.py')).sort().map((file) => join(dir, file));
  const files = [join(FUNCTION_DIR, 'handler.py'), ...modules];
  return (await Promise.all(files.map((file) => readFile(file, 'utf8')))).join('\0');
}

const manifestPath = join(BUNDLE_DIR, 'bundle.json');
const previous = await readFile(manifestPath, 'utf8').then(JSON.parse, () => null);
if (previous?.inputs === inputs) {
  console.log(`pyodide-bundle is up to date (${previous.wheels.length} wheels, snapshot: ${previous.snapshot ?? 'none'})`);
  process.exit(0);
}

await rm(BUNDLE_DIR, { recursive: true, force: true });
await mkdir(BUNDLE_DIR, { recursive: true });
const wheelDir = await mkdtemp(join(tmpdir(), 'token-function-wheels-'));
let wheels;
try {
  const pip = spawnSync(python, ['-m', 'pip', 'wheel', '--quiet', '--no-deps', '-r', requirements, '-w', wheelDir], {
    stdio: 'inherit',
  });
  if (pip.status !== 0) throw new Error(`${python} -m pip wheel failed (exit ${pip.status})`);
  wheels = (await readdir(wheelDir)).filter((file) => file.endsWith('.whl')).sort();
  const compiled = wheels.filter((wheel) => !/-py3-none-any\.whl$|-py2\.py3-none-any\.whl$/.test(wheel));
  if (compiled.length) throw new Error(`not pure-Python, Pyodide cannot load them: ${compiled.join(', ')}`);
  for (const wheel of wheels) {
    const unzip = spawnSync(python, ['-m', 'zipfile', '-e', join(wheelDir, wheel), join(BUNDLE_DIR, 'site-packages')], {
      stdio: 'inherit',
    });
    if (unzip.status !== 0) throw new Error(`could not extract ${wheel}`);
  }
} finally {
  await rm(wheelDir, { recursive: true, force: true });
}

// Written first without `inputs` and completed once the snapshot exists, so a failed build is redone.
const manifest = { pyodide: pyodideVersion, wheels, sitePackages: 'site-packages', snapshot: null, builtWith: null };
await writeFile(manifestPath, JSON.stringify(manifest, null, 2));
if (withSnapshot) {
  const py = await loadPythonRuntime({ makeSnapshot: true });
  defineBridge(py);
  py.runPython(SNAPSHOT_WARMUP);
  await writeFile(join(BUNDLE_DIR, 'snapshot.bin'), py.makeMemorySnapshot());
  manifest.snapshot = 'snapshot.bin';
  manifest.builtWith = runtimeFingerprint();
}
await writeFile(manifestPath, JSON.stringify({ inputs, ...manifest }, null, 2));
console.log(`pyodide-bundle: ${wheels.length} distributions, snapshot: ${manifest.snapshot ?? 'none'}`);
