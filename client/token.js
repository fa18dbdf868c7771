// The page's side of the token function: one warm-up call per visit, and the authCallback ably-js asks for
// tokens. Fetching the TokenRequest ourselves (rather than giving ably-js an authUrl) tells us which step
// failed: the function, or Ably exchanging what the function signed.
export const TOKEN_URL = '/.netlify/functions/ably-token-request';

// Answers that may come right by themselves; every other refusal needs the site owner.
const TRANSIENT_STATUSES = new Set([0, 408, 429, 502, 503, 504]);

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

/** Where the last token attempt got to: 'function' (asking it) or 'ably' (ably-js exchanging its answer). */
export class TokenTracker {
  step = 'function';
  failure = null; // { status, message, code, transient } when the function did not give a TokenRequest
}

export function authCallback(clientId, tracker) {
  return (_tokenParams, callback) => {
    tracker.step = 'function';
    tracker.failure = null;
    const url = `${TOKEN_URL}?${new URLSearchParams({ clientId })}`;
    fetch(url, { cache: 'no-store', headers: { Accept: 'application/json' } })
      .then(async (response) => {
        const body = await response.json().catch(() => null);
        if (response.ok && body && typeof body.keyName === 'string') {
          tracker.step = 'ably';
          callback(null, body);
          return;
        }
        const error = body && body.error && typeof body.error.message === 'string' ? body.error : null;
        fail(tracker, callback, {
          status: response.status,
          message: error ? error.message : `It answered HTTP ${response.status} without a TokenRequest.`,
          code: error && Number.isInteger(error.code) ? error.code : null,
        });
      })
      .catch((error) => {
        fail(tracker, callback, { status: 0, message: error.message || String(error), code: null });
      });
  };
}

function fail(tracker, callback, failure) {
  tracker.failure = { ...failure, transient: TRANSIENT_STATUSES.has(failure.status) };
  callback({ message: failure.message, code: failure.code || 40170, statusCode: 401 }, null);
}
