// Runs the Python token function (handler.py, unchanged) inside Pyodide, for hosts that only run JavaScript.
// Everything Python needs ships with the function in pyodide-bundle/ (made by scripts/build-netlify-function.mjs):
// the pure-Python wheels it imports, extracted, and a memory snapshot taken after importing the function's
// modules. Nothing is fetched at run time.
//
// CommonJS, imported by the entry (zip-it-and-ship-it bundles the two into one ES module, with `require` and
// `__dirname` kept working) and by the build script. Pyodide's own ES modules are loaded by computed path, so
// they ship untouched.
const { readFile } = require('node:fs/promises');
const { dirname, join } = require('node:path');
const { pathToFileURL } = require('node:url');
const v8 = require('node:v8');

// Keep Pyodide's WebAssembly on V8's baseline compiler (Liftoff). By default V8 recompiles hot functions with
// TurboFan on background threads; for CPython's evaluation loop (one 79 KB function) that took over a second
// of CPU here, competing with the cold start on a Lambda-sized CPU, for a speed-up this short-lived function
// hardly uses. --liftoff-only would do it but does not take effect when set from code (V8 applies its flag
// implications only at start-up) and aborts the process if Liftoff cannot compile a function. Limiting
// tier-up to a function index that does not exist turns tier-up off and nothing else: a function Liftoff
// cannot compile still gets TurboFan. Set before any WebAssembly is compiled; tests/deploy checks, with
// V8's compilation trace, that a cold start and warm calls compile nothing with TurboFan.
const WASM_FLAGS = '--wasm-tier-up-filter=2147483647';
v8.setFlagsFromString(WASM_FLAGS);

const { loadPyodide } = require('pyodide');

const FUNCTION_DIR = __dirname;
const BUNDLE_DIR = join(FUNCTION_DIR, 'pyodide-bundle');
const PYODIDE_DIR = dirname(require.resolve('pyodide'));
// Where Python sees the function's own files (a read-only view of FUNCTION_DIR). handler.py looks for a
// project .env two levels up; inside Pyodide that is /home, which has none.
const PYTHON_HOME = '/home/pyodide/functions/ably-token-request';
const SITE_PACKAGES = 'site-packages';

// Run before a snapshot is taken, after the bridge below: import the function's modules (handler.py is only
// compiled: running it reads the environment, so no setting or key enters the snapshot) and answer one
// made-up request with a made-up key through a throwaway logger, in each token format, so what a request,
// each format's signer and Powertools import or set up lazily is in memory too. The build hashes the sources
// into the bundle's inputs, so a changed module means a new snapshot.
const SNAPSHOT_WARMUP = `
import importlib, io, logging, pkgutil
import ably_token_request
for _module in pkgutil.iter_modules(ably_token_request.__path__):
    importlib.import_module(f"ably_token_request.{_module.name}")
from ably_token_request.app import TokenFunction
from ably_token_request.key_store import key_reader
from ably_token_request.log_format import powertools_logger
from ably_token_request.settings import load_settings

def _warm_up(token_format):
    settings = load_settings({"ABLY_API_KEY": "snapshot.warmup:made-up-not-a-key", "ABLY_TOKEN_FORMAT": token_format})
    logger = powertools_logger("INFO", service="snapshot-warmup", handler=logging.StreamHandler(io.StringIO()))
    function = TokenFunction(settings, logger, key_reader(settings.key_source))
    event = {"httpMethod": "GET", "headers": {"host": "warmup"}, "queryStringParameters": {"clientId": "warmup"}}
    assert function(event, {"awsRequestId": "warmup"})["statusCode"] == 200
    logging.Logger.manager.loggerDict.pop("snapshot-warmup", None)

for _format in ("token-request", "jwt"):
    _warm_up(_format)

del _format, _module, _warm_up, TokenFunction, key_reader, powertools_logger, load_settings
`;

// The entry's Python side, a module defined once: in the snapshot (the build runs it) or, without one, at start.
// It compiles handler.py when it is defined, so a restored runtime compiles no Python source at all; `start`
// then runs the handler's start-up (environment in, configuration read) and returns the request function.
const BRIDGE = `
import json, os, sys, types

HOME = ${JSON.stringify(PYTHON_HOME)}
HANDLER = HOME + "/handler.py"
sys.dont_write_bytecode = True
if HOME not in sys.path:
    sys.path.insert(0, HOME)
with open(HANDLER, "rb") as source:
    _handler_code = compile(source.read(), HANDLER, "exec")


def start(variables):
    os.environ.update(json.loads(variables))
    handler = types.ModuleType("handler")
    handler.__file__ = HANDLER
    sys.modules["handler"] = handler
    exec(_handler_code, handler.__dict__)

    def invoke(event, context):
        return json.dumps(handler.handler(json.loads(event), json.loads(context)))

    return invoke
`;
const BRIDGE_MODULE = '_token_function_bridge';

/**
 * Pyodide with the function's files in view: the extracted wheels mounted as site-packages and the function's
 * directory at PYTHON_HOME, both read on demand from disk (files live outside wasm memory, so a snapshot
 * does not carry them). `snapshot` resumes from a memory snapshot.
 */
async function loadPythonRuntime({ snapshot, makeSnapshot = false } = {}) {
  const py = await loadPyodide({
    indexURL: `${PYODIDE_DIR}/`,
    env: { HOME: '/home/pyodide' },
    // Python's output line by line through Node's streams. Pyodide's default writes to the streams' file
    // descriptors, which a worker thread does not have (netlify functions:serve runs v2 functions in one):
    // there every log line was lost. The main thread's streams write straight through, as before.
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
    _makeSnapshot: makeSnapshot,
    ...(snapshot ? { _loadSnapshot: snapshot, createPyodideModule: await sizedForSnapshot(snapshot) } : {}),
  });
  py.mountNodeFS(py.pyimport('sysconfig').get_path('purelib'), join(BUNDLE_DIR, SITE_PACKAGES));
  py.mountNodeFS(PYTHON_HOME, FUNCTION_DIR);
  return py;
}

/** Define the bridge module (before a snapshot is taken, or at start without one). */
function defineBridge(py) {
  const bridge = py.pyimport('types').ModuleType(BRIDGE_MODULE);
  py.pyimport('sys').modules.set(BRIDGE_MODULE, bridge);
  py.runPython(BRIDGE, { globals: bridge.__dict__ });
}

/**
 * Pyodide sizes memory for a snapshot through INITIAL_MEMORY, which this build ignores (its wasm exports its
 * own memory), so restoring a snapshot larger than the initial heap fails. Grow the heap first, through
 * Emscripten's own allocator so its views follow; the restore then overwrites all of it. The memory image
 * follows the snapshot's header, whose second 32-bit word is the image's offset: a function's snapshot
 * usually fits the initial heap, and growing it anyway would double the heap on every cold start.
 */
async function sizedForSnapshot(snapshot) {
  const { buffer, byteOffset, byteLength } = await snapshot;
  const imageBytes = byteLength - new DataView(buffer, byteOffset, 8).getUint32(4, true);
  const asm = pathToFileURL(join(PYODIDE_DIR, 'pyodide.asm' + '.mjs')).href;
  const { default: createPyodideModule } = await import(asm);
  return async (settings) => {
    const module = await createPyodideModule(settings);
    if (imageBytes > module.HEAP8.byteLength) module._free(module._malloc(imageBytes));
    return module;
  };
}

/**
 * What built a snapshot, recorded in bundle.json: a snapshot restores only under a Node whose WebAssembly
 * matches the one it was taken under (built on Node 24 and restored on Node 20, every restore failed with
 * "table index is out of bounds"). The Node major (its module ABI, `modules`) is the unit compared: Node
 * 24.11 and 24.22 restore each other's snapshots (Node 22 restores Node 24's too, Node 20 does not), and a
 * site's build and function runtime are pinned to one major (netlify.toml).
 */
function runtimeFingerprint() {
  return { node: process.version, v8: process.versions.v8, modules: process.versions.modules };
}

/** One JSON line for what happens outside a request (the Python side logs each request's own line). */
function logLine(level, message, fields = {}) {
  const line = { level, timestamp: new Date().toISOString(), message, service: 'ably-token-request', ...fields };
  process.stderr.write(`${JSON.stringify(line)}\n`);
}

/** The snapshot to restore (being read), or undefined and a line saying why when another Node built it. */
function usableSnapshot(bundle) {
  if (!bundle.snapshot) return undefined;
  const built = bundle.builtWith ?? {};
  const running = runtimeFingerprint();
  if (built.modules !== running.modules) {
    logLine('WARNING', 'Pyodide snapshot skipped: built for another Node; starting without it (slower cold start)', {
      snapshot_node: built.node ?? null,
      running_node: running.node,
    });
    return undefined;
  }
  return readFile(join(BUNDLE_DIR, bundle.snapshot));
}

/**
 * Start the function once: environment in, handler imported (its start-up runs here). A snapshot that does
 * not fit the running Node, or fails to restore anyway, is left aside with one log line and the runtime
 * starts from the shipped files instead; only a start that fails without the snapshot too is an error.
 */
async function startFunction({ useSnapshot = true } = {}) {
  const bundle = JSON.parse(await readFile(join(BUNDLE_DIR, 'bundle.json'), 'utf8'));
  const snapshot = useSnapshot ? usableSnapshot(bundle) : undefined;
  let py;
  if (snapshot) {
    py = await loadPythonRuntime({ snapshot }).catch((error) => {
      logLine('WARNING', 'Pyodide snapshot failed to restore; starting without it (slower cold start)', {
        error: String(error?.message ?? error),
      });
      return undefined;
    });
  }
  if (!py) {
    py = await loadPythonRuntime();
    defineBridge(py);
  }
  const invoke = py.pyimport(BRIDGE_MODULE).start(JSON.stringify(functionEnvironment(process.env)));
  return (event, context) => JSON.parse(invoke(JSON.stringify(event ?? null), JSON.stringify(context ?? null)));
}

/** The function's own settings (ABLY_*, POWERTOOLS_*, AWS_*, DEFAULT_CLIENT_ID); not the host's other
 * variables, which name host paths (SSL_CERT_FILE, ...) that do not exist in Pyodide's file system. */
function functionEnvironment(env) {
  const ours = (name) => /^(ABLY_|POWERTOOLS_|AWS_)/.test(name) || name === 'DEFAULT_CLIENT_ID';
  return Object.fromEntries(Object.entries(env).filter(([name]) => ours(name)));
}

module.exports = {
  BUNDLE_DIR,
  FUNCTION_DIR,
  SNAPSHOT_WARMUP,
  defineBridge,
  loadPythonRuntime,
  logLine,
  runtimeFingerprint,
  startFunction,
};
