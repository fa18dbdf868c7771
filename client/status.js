// What the page says about its connection, in one place: the header's label, the note beside "Online",
// and what the empty conversation says until the room first opens. The header's labels are exactly the
// documented list; the browser tests fail if the page ever shows one the docs do not list.

/** Every label the header can show, in the order the docs list them. */
export const STATUS_LABELS = Object.freeze([
  'Not connected',
  'Connecting…',
  'Connected',
  'Retrying…',
  'Reconnecting…',
  'Offline',
  'Stopped',
]);

/** The header's label for an ably-js connection state; `stopped` once a final problem was shown. */
export function statusLabel(state, { everConnected, stopped }) {
  if (stopped && state !== 'connected') return 'Stopped';
  switch (state) {
    case 'connected':
      return 'Connected';
    case 'connecting':
      return everConnected ? 'Reconnecting…' : 'Connecting…';
    case 'disconnected': // ably-js tries again by itself
      return everConnected ? 'Reconnecting…' : 'Retrying…';
    case 'suspended':
      return 'Offline';
    case 'failed':
      return 'Stopped';
    default: // initialized; closing and closed happen only as the page leaves
      return 'Not connected';
  }
}

/** Beside "Online": why the list may be out of date, or '' while it is live. */
export function presenceNote(state, { everConnected, stopped }) {
  if (state === 'connected') return '';
  if (stopped || state === 'closed' || state === 'failed') return 'not connected';
  if (state === 'suspended') return 'offline';
  return everConnected ? 'reconnecting' : 'connecting';
}

/**
 * What the empty conversation waits for before the room first opens (a ChatLog placeholder), so it
 * never says "Loading recent messages…" while nothing is connected: `failedBefore` once an attempt
 * to connect failed, so that retries do not flicker between "connecting" and "not connected".
 */
export function waitingFor(connectionState, channelState, { failedBefore }) {
  switch (connectionState) {
    case 'connected':
      return channelState === 'suspended' || channelState === 'detached' ? 'room-retrying' : 'loading';
    case 'initialized':
    case 'connecting':
      return failedBefore ? 'not-connected' : 'connecting';
    case 'disconnected':
    case 'suspended':
      return 'not-connected';
    default: // failed, closing, closed: a banner says why, and nothing is coming
      return null;
  }
}
