// Turns an ably-js error plus what the page knows (which token step failed) into words for a person: the
// page's own sentence with the code first, then what to do, then what ably-js or the service said, as
// detail. Final problems stop the client; the others clear once it connects.

const HELP_URL = 'https://help.ably.io/error/';
const CAPABILITY_DENIED = 40160;
const TOKEN_ERRORS = { from: 40140, to: 40149 }; // ably-js gets a new token itself
const AUTH_WRAPPERS = new Set([80019, 40170]); // "authentication provider request failed"
const NETWORK_CODES = new Set([80000, 80002, 80003, 80008, 80014, 80017, 50002, 50003]);
// Ably refused a new connection: the account's (40111) or the app's (40150) concurrent connections.
const CONNECTION_LIMITS = {
  40111: 'the Ably account this site uses is at its limit of connections open at once',
  40150: 'the Ably app this site uses is at its limit of connections open at once',
};
const TOO_MANY_REQUESTS = 429;
// Ably closed the connection for what it sent: publishing at about 20 times its rate (42921), or too
// many protocol messages a second (42924).
const FLOODS = new Set([42921, 42924]);
/** Ably could not deliver everything to this client (e.g. past an outbound rate): ably-js re-attaches. */
export const CONTINUITY_LOST = 80020;

const clock = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit', second: '2-digit' });

/** "(HTTP 500, error 50000)", or as much of it as is known. */
function codes({ status = null, code = null }) {
  const parts = [status ? `HTTP ${status}` : null, code ? `error ${code}` : null].filter(Boolean);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

function ablyProblem(title, cause, error, fix, final) {
  return {
    title,
    cause: `${cause}${codes({ code: error.code })}.`,
    fix,
    detail: `Ably said: ${error.message}`,
    final,
    help: error.code ? HELP_URL + error.code : null,
  };
}

function inAWhile(milliseconds) {
  const seconds = Math.max(1, Math.round(milliseconds / 1000));
  return seconds < 90 ? `${seconds} s` : `${Math.round(seconds / 60)} min`;
}

/** The token function answered 429: a visitor waits their turn, and the page says until when. */
function throttledProblem(failure, now) {
  const when = failure.retryAt
    ? `at ${clock.format(failure.retryAt)} (in ${inAWhile(failure.retryAt - now)})`
    : 'shortly';
  return {
    title: 'Too many requests from this network',
    cause:
      'The token function limits how often one address may ask to join, and this network reached the ' +
      `limit${codes(failure)}. People sharing a network, as in an office or a school, count together.`,
    fix: `The page tries again by itself ${when}; nothing else is needed.`,
    detail: `The token function said: ${failure.message}`,
    final: false,
  };
}

/** A refusal by the token function (tracker.failure), worded for whoever can fix it. */
function functionProblem(failure, now) {
  if (failure.status === TOO_MANY_REQUESTS) return throttledProblem(failure, now);
  if (failure.transient) {
    return failure.status
      ? {
          title: `The token function is not answering (HTTP ${failure.status})`,
          cause: `The token function answered as a busy or restarting server does${codes(failure)}.`,
          fix: 'This usually passes. The page keeps trying.',
          detail: `The token function said: ${failure.message}`,
          final: false,
        }
      : {
          title: 'Cannot reach the token function',
          cause: 'The browser could not reach the token function at /.netlify/functions/ably-token-request.',
          fix: 'Check your internet connection. The page keeps trying.',
          detail: `The browser said: ${failure.message}`,
          final: false,
        };
  }
  const answered = `The token function answered: ${failure.message}${codes(failure)}`;
  if (failure.status === 404) {
    return {
      title: 'There is no token function on this site',
      cause: `Nothing answers at /.netlify/functions/ably-token-request${codes(failure)}.`,
      fix:
        'Site owner: deploy the function at /.netlify/functions/ably-token-request (see netlify.toml), ' +
        'then reload.',
      detail: answered,
      final: true,
    };
  }
  if (failure.status >= 500) {
    return {
      title: 'The token function is misconfigured',
      cause: `${answered}.`, // its message names the setting: it leads
      fix:
        'Site owner: change the setting named above (Netlify: site environment variables; locally: .env), ' +
        'redeploy or restart the dev server, then reload this page.',
      final: true,
    };
  }
  return {
    title: `The token function refused this page (HTTP ${failure.status})`,
    cause: `${answered}.`,
    fix: 'Site owner: the message above names the setting to change. Reload once it is fixed.',
    final: true,
  };
}

/**
 * Ably did not take the TokenRequest the function signed: it refused the key, was limiting requests, or
 * could not be reached. `reason` is ably-js's wrapper (80019); its cause is Ably's answer, or a network
 * error with no code of its own (ably-js then fills in 40170, which names no real cause, so the
 * wrapper's code is shown).
 */
function exchangeProblem(reason) {
  const error = reason.cause || reason;
  if (error.statusCode === TOO_MANY_REQUESTS) {
    return ablyProblem(
      'Ably is limiting requests for tokens',
      'Ably refused the token request because too many were made just now',
      error,
      'The page tries again by itself. Site owner: if this lasts, compare the Ably app\u2019s token ' +
        'request rate with its limits (Ably dashboard).',
      false,
    );
  }
  const unreachable = !error.code || error.code === 40170 || error.code >= 50000 || error.statusCode >= 500;
  if (unreachable) return unreachableProblem({ message: error.message, code: reason.code });
  return ablyProblem(
    'Ably refused the API key',
    'Ably refused the token request that the token function signed with ABLY_API_KEY',
    error,
    'Site owner: the token function signs with ABLY_API_KEY; set it to a current key of your Ably app ' +
      '(Ably dashboard, API Keys), redeploy, then reload.',
    true,
  );
}

/** Ably refused the token the function gave, and the new one ably-js got for it: not an expiry. */
function refusedTokenProblem(reason, format) {
  const signed = format === 'jwt' ? 'the JWT the token function signed' : 'the token this page got';
  return ablyProblem(
    format === 'jwt' ? 'Ably refused the JWT' : 'Ably refused the token',
    `Ably refused ${signed}, and a new one too`,
    reason,
    'Site owner: the token function signs with ABLY_API_KEY; set it to a current key of your Ably app ' +
      '(Ably dashboard, API Keys) and check the server\u2019s clock, redeploy, then reload.',
    true,
  );
}

function unreachableProblem(error) {
  return {
    title: 'Cannot reach Ably',
    cause: `The token function answered, but the browser could not reach Ably${codes(error)}.`,
    fix:
      'Check your internet connection; networks that block *.ably.net or WebSockets (some offices and ' +
      'VPNs) stop the chat. The page keeps trying.',
    detail: `ably-js said: ${error.message}`,
    final: false,
    help: null, // the codes here name ably-js's wrapper or a dropped connection, not the cause
  };
}

/**
 * What to tell the visitor about `reason` (an ably-js ErrorInfo), or null when nothing needs saying.
 * context: { tracker, channelName, everConnected, where: 'connection' | 'channel', now, tokenRefusals
 * (token errors in a row since the last time the page was connected) }.
 */
export function explain(reason, context) {
  if (!reason) return null;
  const code = reason.code;
  if (code === CONTINUITY_LOST) return null; // the conversation says so, and ably-js carries on
  if (code === CAPABILITY_DENIED) {
    return ablyProblem(
      `This room is not open to you: “${context.channelName}”`,
      `The token this page got does not allow the room “${context.channelName}”`,
      reason,
      'Open a room the token allows, such as ?channel=chat:lobby (the default capability covers chat:*), ' +
        'or site owner: add this channel to ABLY_TOKEN_CAPABILITY.',
      true,
    );
  }
  if (code in CONNECTION_LIMITS) {
    return ablyProblem(
      'The chat is full right now',
      `Ably refused to connect this page: ${CONNECTION_LIMITS[code]}`,
      reason,
      'Reload the page later to try again. Site owner: every open page is one connection; raise the ' +
        'limit with a bigger Ably package (Ably dashboard, Billing) or ask Ably support, and look for ' +
        'connections left open by other apps on the same account.',
      true,
    );
  }
  if (FLOODS.has(code)) {
    return ablyProblem(
      'Sent far too fast',
      'Ably closed the connection because this page sent messages far faster than it allows',
      reason,
      'Reload the page to join again. If a script or an extension sends messages from this page, stop it.',
      true,
    );
  }
  if (isTokenError(reason)) {
    // Before the page was ever connected the token was fresh: refused, it will be refused again. Once
    // connected, an expiry is reported (once) and ably-js gets a new token; only a second refusal in
    // a row means it is not passing.
    const refusedAgain = context.tokenRefusals > (context.everConnected ? 1 : 0);
    return refusedAgain ? refusedTokenProblem(reason, context.tracker.format) : null;
  }
  if (AUTH_WRAPPERS.has(code)) {
    const { tracker } = context;
    if (tracker.step === 'function' && tracker.failure) {
      return functionProblem(tracker.failure, context.now ?? Date.now());
    }
    return exchangeProblem(reason);
  }
  if (NETWORK_CODES.has(code) || (reason.statusCode && reason.statusCode >= 500)) {
    // Once connected, a drop is only "Reconnecting" in the status; ably-js retries and queues messages.
    return context.everConnected ? null : unreachableProblem(reason);
  }
  return ablyProblem(
    context.where === 'channel' ? 'The room could not be opened' : 'The connection failed',
    context.where === 'channel' ? 'Ably refused to open the room' : 'Ably ended the connection',
    reason,
    'Reload the page to try again. If it keeps happening, the code above says why.',
    true,
  );
}

/** Whether Ably refused the token (expired, revoked, unreadable): ably-js then gets a new one. */
export function isTokenError(reason) {
  return Boolean(reason) && reason.code >= TOKEN_ERRORS.from && reason.code <= TOKEN_ERRORS.to;
}

/** The page is waiting out the token function's 429 (tracker.failure): that, rather than "Offline". */
export function throttled(tracker, now = Date.now()) {
  const failure = tracker.failure;
  return failure && failure.status === TOO_MANY_REQUESTS ? throttledProblem(failure, now) : null;
}

export function offlineProblem() {
  return {
    title: 'Offline',
    cause: 'The chat has not been reachable for over 2 minutes, so messages cannot be sent now.',
    fix: 'Check your internet connection. The page reconnects by itself when it can.',
    final: false,
  };
}
