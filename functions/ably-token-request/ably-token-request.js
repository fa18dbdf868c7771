// Netlify entry for /.netlify/functions/ably-token-request. Netlify bundles JavaScript, Go and Rust functions
// only, so this runs the Python handler (handler.py, the code pytest tests) in Pyodide: started once per
// process on the first request, reused by every warm invocation.
const { startFunction } = require('./pyodide-runtime.js');

let started;

exports.handler = async function handler(event, context) {
  // ABLY_PYODIDE_SNAPSHOT=off starts from the wheels alone (slower), e.g. to rule the snapshot out.
  started ??= startFunction({ useSnapshot: process.env.ABLY_PYODIDE_SNAPSHOT !== 'off' }).catch((error) => {
    started = undefined; // a failed start is retried by the next request, not cached
    throw error;
  });
  const invoke = await started;
  return invoke(event, context);
};
