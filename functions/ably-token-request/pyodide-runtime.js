// Runs the Python token function (handler.py, unchanged) inside Pyodide, for hosts that only run JavaScript.
// Everything Python needs ships with the function in pyodide-bundle/ (made by scripts/build-netlify-function.mjs):
// pure-Python wheels of requirements.txt and, optionally, a memory snapshot taken after importing them.
// Nothing is fetched at run time.
//
// CommonJS on purpose: Netlify's bundler rewrites ES modules it traces into CommonJS but keeps their .mjs names,
// which Node then refuses to load. Pyodide's own ES modules are loaded by computed path, so they ship untouched.
const { readdir, readFile } = require('node:fs/promises');
const { dirname, join, relative } = require('node:path');
const { pathToFileURL } = require('node:url');
const { loadPyodide } = require('pyodide');

const FUNCTION_DIR = __dirname;
const BUNDLE_DIR = join(FUNCTION_DIR, 'pyodide-bundle');
const PYODIDE_DIR = dirname(require.resolve('pyodide'));
// handler.py looks for a project .env two levels up; inside Pyodide that is /home, which has none.
const PYTHON_HOME = '/home/pyodide/functions/ably-token-request';
const SOURCES = ['handler.py', 'ably_token_request'];

// Run before a snapshot is taken: import the third-party code the handler uses and sign one throwaway
// TokenRequest with a made-up key, so modules ably and httpx import lazily are in memory too. The handler
// itself is not imported (it reads the environment at start-up), so no setting or key enters the snapshot.
// The build hashes the sources into the bundle's inputs, so a changed module means a new snapshot.
const SNAPSHOT_WARMUP = `
import aws_lambda_powertools.logging, dotenv
from ably import AblyRest

_request = AblyRest(key="snapshot.warmup:made-up-not-a-key").auth.create_token_request({"client_id": "warmup"})
try:
    _request.send(None)
except StopIteration:
    pass
del _request, AblyRest
`;
// Then the function's own modules, all but handler.py: they only define code and constants.
const SNAPSHOT_SOURCES = `
import importlib, pkgutil, sys
sys.path.insert(0, ${JSON.stringify(PYTHON_HOME)})
import ably_token_request
for _module in pkgutil.iter_modules(ably_token_request.__path__):
    importlib.import_module(f"ably_token_request.{_module.name}")
`;

const BRIDGE = `
import json, os, sys

def set_environment(variables):
    os.environ.update(json.loads(variables))

def start(home):
    if home not in sys.path:
        sys.path.insert(0, home)
    import handler

    def invoke(event, context):
        return json.dumps(handler.handler(json.loads(event), json.loads(context)))

    return invoke
`;

/** Load Pyodide with the function's dependencies installed; `snapshot` resumes from a memory snapshot. */
async function loadPythonRuntime({ snapshot, makeSnapshot = false, mountSitePackages = false } = {}) {
  const py = await loadPyodide({
    indexURL: `${PYODIDE_DIR}/`,
    env: { HOME: '/home/pyodide' },
    _makeSnapshot: makeSnapshot,
    ...(snapshot ? { _loadSnapshot: snapshot, createPyodideModule: await sizedForSnapshot(snapshot) } : {}),
  });
  // Files live outside wasm memory, so a snapshot does not carry them. The build extracted the wheels into
  // pyodide-bundle/site-packages: mounting that reads only the files Python opens. Without it, unpack them.
  const bundle = JSON.parse(await readFile(join(BUNDLE_DIR, 'bundle.json'), 'utf8'));
  const sitePackages = py.runPython('import sysconfig; sysconfig.get_path("purelib")');
  if (mountSitePackages && bundle.sitePackages) {
    py.mountNodeFS(sitePackages, join(BUNDLE_DIR, bundle.sitePackages));
    return { py, bundle };
  }
  for (const wheel of bundle.wheels) {
    const data = new Uint8Array(await readFile(join(BUNDLE_DIR, 'wheels', wheel)));
    py.unpackArchive(data, 'wheel', { extractDir: sitePackages });
  }
  return { py, bundle };
}

/**
 * Pyodide sizes memory for a snapshot through INITIAL_MEMORY, which this build ignores (its wasm exports its
 * own memory), so restoring a snapshot larger than the initial heap fails. Grow the heap first, through
 * Emscripten's own allocator so its views follow; the restore then overwrites all of it.
 */
async function sizedForSnapshot(snapshot) {
  const { byteLength } = await snapshot;
  const asm = pathToFileURL(join(PYODIDE_DIR, 'pyodide.asm' + '.mjs')).href;
  const { default: createPyodideModule } = await import(asm);
  return async (settings) => {
    const module = await createPyodideModule(settings);
    if (byteLength > module.HEAP8.byteLength) module._free(module._malloc(byteLength));
    return module;
  };
}

async function copySources(py) {
  for (const source of SOURCES) {
    const files = source.endsWith('.py')
      ? [source]
      : (await readdir(join(FUNCTION_DIR, source), { recursive: true }))
          .filter((file) => file.endsWith('.py'))
          .map((file) => join(source, file));
    for (const file of files) {
      const target = `${PYTHON_HOME}/${relative(FUNCTION_DIR, join(FUNCTION_DIR, file))}`;
      py.FS.mkdirTree(dirname(target));
      py.FS.writeFile(target, await readFile(join(FUNCTION_DIR, file)));
    }
  }
}

/** Start the function once: environment in, sources copied, handler imported (its start-up runs here). */
async function startFunction({ useSnapshot = true } = {}) {
  const bundle = JSON.parse(await readFile(join(BUNDLE_DIR, 'bundle.json'), 'utf8'));
  const snapshot = useSnapshot && bundle.snapshot ? readFile(join(BUNDLE_DIR, bundle.snapshot)) : undefined;
  const { py } = await loadPythonRuntime({ snapshot, mountSitePackages: useSnapshot });
  await copySources(py);
  const namespace = py.globals.get('dict')();
  py.runPython(BRIDGE, { globals: namespace });
  namespace.get('set_environment')(JSON.stringify(functionEnvironment(process.env)));
  const invoke = namespace.get('start')(PYTHON_HOME);
  return (event, context) => JSON.parse(invoke(JSON.stringify(event ?? null), JSON.stringify(lambdaContext(context))));
}

/** The function's own settings (ABLY_*, POWERTOOLS_*, AWS_*, DEFAULT_CLIENT_ID); not the host's other
 * variables, which name host paths (SSL_CERT_FILE, ...) that do not exist in Pyodide's file system. */
function functionEnvironment(env) {
  const ours = (name) => /^(ABLY_|POWERTOOLS_|AWS_)/.test(name) || name === 'DEFAULT_CLIENT_ID';
  return Object.fromEntries(Object.entries(env).filter(([name]) => ours(name)));
}

/** The parts of a Netlify (Lambda-style) context the handler reads: request id and Identity user. */
function lambdaContext(context) {
  if (!context) return null;
  const { awsRequestId, clientContext } = context;
  return { awsRequestId: awsRequestId ?? null, clientContext: clientContext ?? null };
}

module.exports = { BUNDLE_DIR, FUNCTION_DIR, SNAPSHOT_SOURCES, SNAPSHOT_WARMUP, copySources, loadPythonRuntime, startFunction };
