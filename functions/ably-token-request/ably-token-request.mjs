// Netlify entry for /.netlify/functions/ably-token-request. Netlify bundles JavaScript, Go and Rust functions
// only, so this runs the Python handler (handler.py, the code pytest tests) in Pyodide: started once per
// process on the first request, reused by every warm invocation.
//
// A modern (v2) Netlify function: Netlify's per-address rate limit (`config.rateLimit`) exists for these only.
// It takes a web Request and answers a Response; the Python handler keeps the Lambda-style event and context
// it has always had, built here from the Request.
//
// ES module, named .mjs: zip-it-and-ship-it bundles a v2 entry's local imports with esbuild into one file
// and names it after the format it wrote (.mjs for ESM), so Node loads it as it was written. pyodide-runtime.js
// stays CommonJS, which the build script and this entry both import.
import runtime from './pyodide-runtime.js';

const { logLine, startFunction } = runtime;

// Netlify's per-address rate limit. zip-it-and-ship-it reads it statically and hands it to Netlify as the
// function's traffic rule: it must stay a literal (a constant or an expression is dropped without a word, an
// aggregateBy that is not an array counts per site domain only); `make dev` reads this same literal.
// 60 requests in any 60 s per client address and site domain: a visit costs two (the page's warm-up and a
// token) plus a renewal an hour, so one address can start 30 visits a minute (a classroom arriving together),
// while a script gets one token a second from an address instead of all it can send (README: limits).
// `path` is the default URL, declared: Netlify documents rate limits for functions that declare their path,
// and the function stays where the page calls it (netlify-cli's local router refuses a declared default URL;
// `make dev` serves it).
export const config = {
  path: '/.netlify/functions/ably-token-request',
  rateLimit: {
    windowLimit: 60,
    windowSize: 60,
    aggregateBy: ['ip', 'domain'],
  },
};

const START_FAILED = {
  statusCode: 500,
  headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'x-ably-errorcode': '50000' },
  body: JSON.stringify({
    error: { message: 'The token function failed to start; its log says why.', code: 50000, statusCode: 500 },
  }),
};

let started;

export default async function tokenRequest(request, context) {
  // ABLY_PYODIDE_SNAPSHOT=off starts from the wheels alone (slower), e.g. to rule the snapshot out.
  started ??= startFunction({ useSnapshot: process.env.ABLY_PYODIDE_SNAPSHOT !== 'off' }).catch(failedStart);
  const invoke = await started;
  return toResponse(invoke(await lambdaEvent(request), lambdaContext(context)));
}

/**
 * A start that failed even without the snapshot fails the same way again (a missing file, a runtime Pyodide
 * cannot run on), and each attempt costs seconds of CPU: this instance answers every request with a 500
 * instead of retrying, logging the reason once and one line per request.
 */
function failedStart(error) {
  logLine('ERROR', 'token function failed to start', { error: String(error?.stack ?? error) });
  return () => {
    logLine('ERROR', 'token request', { outcome: 'StartFailed', status: 500 });
    return START_FAILED;
  };
}

/** The Netlify (Lambda-style) event the Python handler reads, from the web Request. */
async function lambdaEvent(request) {
  const url = new URL(request.url);
  const headers = Object.fromEntries(request.headers); // names lower case, repeated values joined by ", "
  const multiValueQuery = {};
  for (const [name, value] of url.searchParams) (multiValueQuery[name] ??= []).push(value);
  const bytes = request.body ? new Uint8Array(await request.arrayBuffer()) : new Uint8Array();
  const text = bytes.length ? utf8(bytes) : undefined;
  return {
    path: url.pathname,
    httpMethod: request.method,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
    queryStringParameters: Object.fromEntries(
      Object.entries(multiValueQuery).map(([name, values]) => [name, values.join(', ')]),
    ),
    multiValueQueryStringParameters: multiValueQuery,
    rawUrl: request.url,
    rawQuery: url.search.slice(1),
    // Text as text; bytes that are not UTF-8 as base64, which the handler decodes and refuses as it should.
    body: bytes.length ? (text ?? Buffer.from(bytes).toString('base64')) : null,
    isBase64Encoded: bytes.length > 0 && text === undefined,
  };
}

function utf8(bytes) {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * The Lambda context the Python handler reads: the request id, and the Netlify Identity user as
 * `clientContext.user`. A v2 function gets no clientContext: Netlify passes the verified Identity
 * (`{url, token, user}`, base64 JSON in the x-nf-identity-info request header) to the bootstrap, which
 * decodes it into `globalThis.netlifyIdentityContext` for the request, where @netlify/identity's getUser()
 * reads it too. Its `user` holds the token's claims, as clientContext.user did. An Authorization header
 * alone is never an identity here: nothing in this function verifies a token.
 */
function lambdaContext(context) {
  const user = globalThis.netlifyIdentityContext?.user;
  return { awsRequestId: context?.requestId || null, clientContext: user ? { user } : null };
}

/** The Python handler's answer as a web Response (no body for the statuses that cannot have one). */
function toResponse({ statusCode, headers = {}, multiValueHeaders = {}, body, isBase64Encoded }) {
  const answer = new Headers();
  for (const [name, value] of Object.entries(headers)) answer.set(name, String(value));
  for (const [name, values] of Object.entries(multiValueHeaders)) {
    for (const value of values) answer.append(name, String(value));
  }
  const empty = body == null || body === '' || [204, 205, 304].includes(statusCode);
  const content = isBase64Encoded ? Buffer.from(body ?? '', 'base64') : body;
  return new Response(empty ? null : content, { status: statusCode, headers: answer });
}
