// The page's side of the token function: one warm-up call per visit, and the authCallback ably-js asks for
// tokens. Fetching the token ourselves (rather than giving ably-js an authUrl) tells us which step failed:
// the function, or Ably taking what the function gave. The function answers in one of two formats, and
// its Content-Type says which: application/json is a signed TokenRequest (ably-js exchanges it with Ably
// for a token), application/jwt is an Ably JWT (ably-js connects with it directly).
export const TOKEN_URL = '/.netlify/functions/ably-token-request';

// Answers that may come right by themselves; every other refusal needs the site owner.
const TRANSIENT_STATUSES = new Set([0, 408, 429, 502, 503, 504]);
const TOO_MANY_REQUESTS = 429;
// A longer Retry-After is read as this: the page will not sit out an hour on one answer's word.
const MAX_RETRY_AFTER_S = 15 * 60;
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]+$/; // three base64url parts

let warmed = false;

/**
 * Wakes a cold function instance while the visitor types their name, so that Join meets a warm one.
 * The function answers 204 without signing anything; failures are irrelevant (Join still works).
 */
export function warmUp() {
  if (warmed) return;
  warmed = true;
  fetch(`${TOKEN_URL}?warmup=1`, { cache: 'no-store' }).catch(() => {});
}

/**
 * When the function may be asked again (ms since the epoch), from a Retry-After header: seconds, or an
 * HTTP date; null when there is none or it cannot be read.
 */
export function retryAfter(header, now) {
  const value = (header || '').trim();
  let seconds = null;
  if (/^\d+$/.test(value)) seconds = Number(value);
  // An HTTP date starts with the day's name ("Sun, 06 Nov 1994 08:49:37 GMT"); Date.parse alone would
  // also read "-5" or "1.5" as dates.
  else if (/^[A-Za-z]{3}/.test(value) && !Number.isNaN(Date.parse(value))) {
    seconds = (Date.parse(value) - now) / 1000;
  }
  if (seconds === null) return null;
  return now + Math.min(Math.max(seconds, 0), MAX_RETRY_AFTER_S) * 1000;
}

/** The token in the function's answer, as ably-js takes it, or null when it holds neither format. */
export function tokenFrom(contentType, text) {
  const type = (contentType || '').split(';')[0].trim().toLowerCase();
  if (type === 'application/jwt') {
    const jwt = text.trim();
    return JWT_SHAPE.test(jwt) ? jwt : null;
  }
  if (type === 'application/json') {
    const body = parsedJson(text);
    return body && typeof body === 'object' && typeof body.keyName === 'string' ? body : null;
  }
  return null;
}

function parsedJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Where the last token attempt got to: 'function' (asking it) or 'ably' (ably-js using its answer). */
export class TokenTracker {
  step = 'function';
  format = null; // of the last token the function gave: 'jwt' or 'token-request'
  // { status, message, code, transient, retryAt } when the function gave no token; retryAt (ms since the
  // epoch, or null) is when its Retry-After lets the page ask again.
  failure = null;
}

export function authCallback(clientId, tracker) {
  return (_tokenParams, callback) => {
    const held = tracker.failure;
    if (held && held.retryAt && Date.now() < held.retryAt) {
      // ably-js retries on its own clock; the function said when to come back, so it is not asked sooner.
      callback(ablyError(held), null);
      return;
    }
    tracker.step = 'function';
    tracker.failure = null;
    const url = `${TOKEN_URL}?${new URLSearchParams({ clientId })}`;
    fetch(url, { cache: 'no-store', headers: { Accept: 'application/jwt, application/json' } })
      .then(async (response) => {
        const text = await response.text();
        const token = response.ok ? tokenFrom(response.headers.get('Content-Type'), text) : null;
        if (token) {
          tracker.step = 'ably';
          tracker.format = typeof token === 'string' ? 'jwt' : 'token-request';
          callback(null, token);
          return;
        }
        const body = parsedJson(text);
        const error = body && body.error && typeof body.error.message === 'string' ? body.error : null;
        const status = response.status;
        fail(tracker, callback, {
          status,
          message: error ? error.message : `It answered HTTP ${status} with neither a TokenRequest nor a JWT.`,
          code: error && Number.isInteger(error.code) ? error.code : null,
          retryAt: status === TOO_MANY_REQUESTS ? retryAfter(response.headers.get('Retry-After'), Date.now()) : null,
        });
      })
      .catch((error) => {
        fail(tracker, callback, { status: 0, message: error.message || String(error), code: null, retryAt: null });
      });
  };
}

/**
 * What ably-js is told: a 429 stays a 429 (ably-js retries anything but a 403 or a code it cannot renew
 * from); the rest are 401s, and the page itself decides which of them are final (problems.js).
 */
function ablyError(failure) {
  return {
    message: failure.message,
    code: failure.code || 40170,
    statusCode: failure.status === TOO_MANY_REQUESTS ? TOO_MANY_REQUESTS : 401,
  };
}

function fail(tracker, callback, failure) {
  tracker.failure = { ...failure, transient: TRANSIENT_STATUSES.has(failure.status) };
  callback(ablyError(tracker.failure), null);
}
