// Turns an ably-js error plus what the page knows (which token step failed) into words for a person:
// what went wrong, what to do about it, and whether retrying can help. Final problems stop the client.

const HELP_URL = 'https://help.ably.io/error/';
const CAPABILITY_DENIED = 40160;
const TOKEN_ERRORS = { from: 40140, to: 40149 }; // ably-js renews the token itself
const AUTH_WRAPPERS = new Set([80019, 40170]); // "authentication provider request failed"
const NETWORK_CODES = new Set([80000, 80002, 80003, 80008, 80014, 80017, 50002, 50003]);

function withCode(message, code) {
  return code ? `${message} (${code})` : message;
}

function ablyProblem(title, error, fix, final) {
  return {
    title,
    cause: `Ably: ${withCode(error.message, error.code)}`,
    fix,
    final,
    help: error.code ? HELP_URL + error.code : null,
  };
}

/** A refusal by the token function (tracker.failure), worded for whoever can fix it. */
function functionProblem(failure) {
  const said = `The token function said: ${withCode(failure.message, failure.code)}`;
  if (failure.transient) {
    return {
      title: failure.status
        ? `The token function is not answering (HTTP ${failure.status})`
        : 'Cannot reach the token function',
      cause: failure.status ? said : `The request failed: ${failure.message}`,
      fix: 'Check your internet connection. The page keeps trying.',
      final: false,
    };
  }
  if (failure.status === 404) {
    return {
      title: 'There is no token function on this site',
      cause: said,
      fix:
        'Site owner: deploy the function at /.netlify/functions/ably-token-request (see netlify.toml), ' +
        'then reload.',
      final: true,
    };
  }
  if (failure.status >= 500) {
    return {
      title: 'The token function is misconfigured',
      cause: said,
      fix:
        'Site owner: change the setting named above (Netlify: site environment variables; locally: .env), ' +
        'redeploy or restart the dev server, then reload this page.',
      final: true,
    };
  }
  return {
    title: `The token function refused this page (HTTP ${failure.status})`,
    cause: said,
    fix: 'Site owner: the message above names the setting to change. Reload once it is fixed.',
    final: true,
  };
}

/**
 * Ably did not take the TokenRequest the function signed: it refused the key, or could not be reached.
 * `reason` is ably-js's wrapper (80019); its cause is Ably's answer, or a network error with no code
 * of its own (ably-js then fills in 40170, which names no real cause, so the wrapper's code is shown).
 */
function exchangeProblem(reason) {
  const error = reason.cause || reason;
  const unreachable = !error.code || error.code === 40170 || error.code >= 50000 || error.statusCode >= 500;
  if (unreachable) return unreachableProblem({ message: error.message, code: reason.code });
  return ablyProblem(
    'Ably refused the API key',
    error,
    'Site owner: the token function signs with ABLY_API_KEY; set it to a current key of your Ably app ' +
      '(Ably dashboard, API Keys), redeploy, then reload.',
    true,
  );
}

function unreachableProblem(error) {
  const said = withCode(error.message, error.code);
  return {
    title: 'Cannot reach Ably',
    cause: `The token function answered, but ably-js could not reach Ably: ${said}`,
    fix:
      'Check your internet connection; networks that block *.ably.net or WebSockets (some offices and ' +
      'VPNs) stop the chat. The page keeps trying.',
    final: false,
    help: null, // the codes here name ably-js's wrapper or a dropped connection, not the cause
  };
}

/**
 * What to tell the visitor about `reason` (an ably-js ErrorInfo), or null when nothing needs saying.
 * context: { tracker, channelName, everConnected, where: 'connection' | 'channel' }.
 */
export function explain(reason, context) {
  if (!reason) return null;
  const code = reason.code;
  if (code === CAPABILITY_DENIED) {
    return ablyProblem(
      `This room is not open to you: “${context.channelName}”`,
      reason,
      'Open a room the token allows, such as ?channel=chat:lobby (the default capability covers chat:*), ' +
        'or site owner: add this channel to ABLY_TOKEN_CAPABILITY.',
      true,
    );
  }
  if (code >= TOKEN_ERRORS.from && code <= TOKEN_ERRORS.to) return null;
  if (AUTH_WRAPPERS.has(code)) {
    const { tracker } = context;
    if (tracker.step === 'function' && tracker.failure) return functionProblem(tracker.failure);
    return exchangeProblem(reason);
  }
  if (NETWORK_CODES.has(code) || (reason.statusCode && reason.statusCode >= 500)) {
    // Once connected, a drop is only "Reconnecting" in the status; ably-js retries and queues messages.
    return context.everConnected ? null : unreachableProblem(reason);
  }
  return ablyProblem(
    context.where === 'channel' ? 'The room could not be opened' : 'The connection failed',
    reason,
    'Reload the page to try again. If it keeps happening, the code above says why.',
    true,
  );
}

export function offlineProblem() {
  return {
    title: 'Offline',
    cause: 'The chat has not been reachable for a while, so messages cannot be sent now.',
    fix: 'Check your internet connection. The page reconnects by itself when it can.',
    final: false,
  };
}
