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

// A claimed Identity user is confirmed with the site's Identity API (GoTrue) before the handler sees it. The
// API is found from URL, the site address Netlify sets for functions, never from the request. The timeout is
// @netlify/identity's own for its server-side calls; the answer is one user record.
const IDENTITY_PATH = '/.netlify/identity';
const IDENTITY_TIMEOUT_MS = 5000;
const MAX_IDENTITY_ANSWER_BYTES = 64 * 1024;
// What the Identity API answers for a token it did not issue, or no longer accepts: not this user.
const NOT_A_USER = new Set([400, 401, 403, 404, 422]);

const START_FAILED = errorResponse(500, 50000, 'The token function failed to start; its log says why.');
const INTERNAL_ERROR = errorResponse(500, 50000, 'The token function failed unexpectedly; see its logs.');
const IDENTITY_UNAVAILABLE = errorResponse(
  503,
  50300,
  'Netlify Identity could not confirm the logged-in user just now; try again.',
);

let started;

export default async function tokenRequest(request, context) {
  // ABLY_PYODIDE_SNAPSHOT=off starts from the wheels alone (slower), e.g. to rule the snapshot out.
  started ??= startFunction({ useSnapshot: process.env.ABLY_PYODIDE_SNAPSHOT !== 'off' })
    .then(answering)
    .catch(failedStart);
  const answer = await started;
  return answer(request, context);
}

/**
 * The per-request function of a started runtime. It never throws: whatever fails in a request outside the
 * Python handler (which answers its own errors) is answered here, in Ably's shape, with the request's one
 * log line, rather than reaching Netlify's bootstrap as a crash with its stack trace.
 */
function answering({ invoke, maxBodyBytes }) {
  return async (request, context) => {
    const requestId = context?.requestId || null;
    try {
      const user = await confirmedIdentityUser(request);
      return toResponse(invoke(await lambdaEvent(request, maxBodyBytes), lambdaContext(requestId, user)));
    } catch (error) {
      const unavailable = error instanceof IdentityUnavailable;
      logLine('ERROR', 'token request', {
        request_id: requestId,
        method: request.method,
        outcome: unavailable ? 'IdentityUnavailable' : 'InternalError',
        status: unavailable ? 503 : 500,
        error: String(error?.message ?? error),
      });
      return toResponse(unavailable ? IDENTITY_UNAVAILABLE : INTERNAL_ERROR);
    }
  };
}

/**
 * A start that failed even without the snapshot fails the same way again (a missing file, a runtime Pyodide
 * cannot run on), and each attempt costs seconds of CPU: this instance answers every request with a 500
 * instead of retrying, logging the reason once and one line per request.
 */
function failedStart(error) {
  logLine('ERROR', 'token function failed to start', { error: String(error?.stack ?? error) });
  return async (request, context) => {
    logLine('ERROR', 'token request', {
      request_id: context?.requestId || null,
      outcome: 'StartFailed',
      status: 500,
    });
    return toResponse(START_FAILED);
  };
}

class IdentityUnavailable extends Error {}

/**
 * The Netlify Identity user this request is from, as the site's Identity API confirms it, or null.
 *
 * Netlify's bootstrap decodes the x-nf-identity-info request header into globalThis.netlifyIdentityContext.
 * Netlify documents that it sets the user there for a request with a valid Identity token, but not that its
 * edge removes the header when a client sends it, and netlify-cli passes a client's header through: as sent,
 * it would let anyone name any user and roles. So the header only says whether to look: with a claimed user,
 * the request's own token (`Authorization: Bearer`) goes to the Identity API's /user, which answers the user
 * it belongs to, with the roles Identity holds now (@netlify/identity's getUser() does the same). A token
 * Identity refuses, or none, is an anonymous request; an Identity that cannot answer is a 503 (transient:
 * ably-js asks again), never a token without the user's identity. Only the id and roles are handed on.
 */
async function confirmedIdentityUser(request) {
  if (!globalThis.netlifyIdentityContext?.user) return null;
  const token = bearerToken(request.headers.get('authorization'));
  if (!token) return null;
  if (!process.env.URL) throw new IdentityUnavailable('URL (the site address) is not set: no Identity API');
  let answer;
  try {
    answer = await fetch(new URL(`${IDENTITY_PATH}/user`, process.env.URL), {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      signal: AbortSignal.timeout(IDENTITY_TIMEOUT_MS),
    });
  } catch (error) {
    throw new IdentityUnavailable(`Identity API unreachable: ${error?.cause?.code ?? error?.name ?? error}`);
  }
  if (NOT_A_USER.has(answer.status)) {
    await answer.body?.cancel();
    return null;
  }
  const body = answer.ok ? Buffer.from(await answer.arrayBuffer()) : Buffer.alloc(0);
  if (!answer.ok || body.length > MAX_IDENTITY_ANSWER_BYTES) {
    throw new IdentityUnavailable(`Identity API answered ${answer.status} (${body.length} bytes)`);
  }
  let user;
  try {
    user = JSON.parse(body.toString('utf8'));
  } catch {
    user = null;
  }
  if (typeof user?.id !== 'string') throw new IdentityUnavailable('Identity API answered no user id');
  const roles = user.app_metadata?.roles;
  return { sub: user.id, app_metadata: roles === undefined ? {} : { roles } };
}

/** The token of an `Authorization: Bearer <token>` header (the scheme in any case), or null. */
function bearerToken(header) {
  const match = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header ?? '');
  return match ? match[1] : null;
}

/**
 * The Netlify (Lambda-style) event the Python handler reads, from the web Request. A body larger than the
 * handler reads is cut to one byte over its limit: the handler answers the same 413, without megabytes
 * crossing into Python (up to Netlify's 6 MB: 100-180 ms of CPU, and a WebAssembly heap that never
 * shrinks). x-nf-identity-info stays out: the handler never reads it, and its operator token is an admin
 * credential for the site's Identity.
 */
async function lambdaEvent(request, maxBodyBytes) {
  const url = new URL(request.url);
  const headers = Object.fromEntries(request.headers); // names lower case, repeated values joined by ", "
  delete headers['x-nf-identity-info'];
  const multiValueQuery = Object.create(null); // any name is a parameter: constructor, __proto__, toString
  for (const [name, value] of url.searchParams) (multiValueQuery[name] ??= []).push(value);
  const whole = request.body ? new Uint8Array(await request.arrayBuffer()) : new Uint8Array();
  const bytes = whole.length > maxBodyBytes ? whole.subarray(0, maxBodyBytes + 1) : whole;
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

/** The Lambda context the Python handler reads: the request id, and the confirmed Identity user as
 * `clientContext.user`, as Netlify gave the Lambda-style entry. */
function lambdaContext(requestId, user) {
  return { awsRequestId: requestId, clientContext: user ? { user } : null };
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

/** An answer in Ably's error shape, for the failures this entry answers itself. */
function errorResponse(statusCode, code, message) {
  return {
    statusCode,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'x-ably-errorcode': String(code) },
    body: JSON.stringify({ error: { message, code, statusCode } }),
  };
}
