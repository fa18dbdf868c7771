// The chat page: join with a name, then chat on one channel with presence, through a token from the token
// function. Connection state (short, in the header) is kept apart from problems (a banner saying what is
// wrong and who can fix it). Everything received is rendered with textContent, never as markup.
import * as Ably from 'ably';

import { ChatLog } from './chat-log.js';
import { Members } from './members.js';
import { nameProblem, nameTooLong, rememberName, rememberedName } from './names.js';
import { CONTINUITY_LOST, explain, isTokenError, offlineProblem, throttled } from './problems.js';
import { presenceNote, statusLabel, waitingFor } from './status.js';
import { TokenTracker, authCallback, warmUp } from './token.js';

const MESSAGE_NAME = 'chat';
// Delivered on attach through the channel's rewind parameter: one round trip, no gap before live
// messages, and it needs only the subscribe capability (history() would need "history" too).
const RECENT_MESSAGES = 50;
const MAX_MESSAGE_LENGTH = 2000;
// Ably's nonfatal refusal of a publish past the connection's (or the token's) publish rate.
const SENDING_TOO_FAST = 42911;
const DEFAULT_CHANNEL = 'chat:lobby';
// ably-js queues publishes in these states and sends them once connected.
const QUEUEING_STATES = new Set(['connected', 'connecting', 'disconnected']);
// Rewound messages follow ATTACHED at once; wait this long before calling the room empty.
const EMPTY_ROOM_GRACE_MS = 250;

const element = (id) => document.getElementById(id);
const joinForm = element('join');
const nameInput = element('name');
const room = element('room');
const messageInput = element('message');
const sendButton = element('send');

// Only the dev server adds this tag (host, port, tls for the local realtime service);
// the published page has none and talks to the real Ably.
function devClientOptions() {
  const meta = document.querySelector('meta[name="ably-client-options"]');
  return meta ? JSON.parse(meta.content) : {};
}

function channelName() {
  return new URLSearchParams(window.location.search).get('channel') || DEFAULT_CHANNEL;
}

function showStatus(state, context) {
  element('status').dataset.state = state;
  element('status-text').textContent = statusLabel(state, context);
}

function showProblem(problem) {
  const banner = element('banner');
  element('banner-title').textContent = problem.title;
  element('banner-cause').textContent = problem.cause;
  element('banner-fix').textContent = problem.fix;
  const detail = element('banner-detail'); // what ably-js or the service said, after the page's words
  detail.textContent = problem.detail || '';
  detail.hidden = !problem.detail;
  const help = element('banner-help');
  help.hidden = !problem.help;
  if (problem.help) {
    help.href = problem.help;
    help.textContent = `About error ${problem.help.split('/').pop()} on help.ably.io`;
  }
  banner.dataset.final = String(problem.final);
  banner.hidden = false;
}

function clearProblem() {
  element('banner').hidden = true;
}

function showFieldError(input, errorElement, message) {
  errorElement.textContent = message || '';
  errorElement.hidden = !message;
  input.setAttribute('aria-invalid', String(Boolean(message)));
}

// An id of our own for each message lets the page show it at once and match Ably's echo to it
// (ably-js's own idempotent ids have this shape: random base64, a colon, an index).
function newMessageId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `${btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_')}:0`;
}

function join(clientId) {
  const name = channelName();
  joinForm.hidden = true;
  room.hidden = false;
  element('channel-name').textContent = name;
  document.title = `${name} · Serverless WebSockets chat`;

  const tracker = new TokenTracker();
  const realtime = new Ably.Realtime({
    authCallback: authCallback(clientId, tracker),
    clientId,
    ...devClientOptions(),
  });
  const log = new ChatLog({
    log: element('log'),
    list: element('messages'),
    empty: element('empty'),
    marker: element('new-messages'),
  });
  const members = new Members({
    panel: element('presence'),
    list: element('members'),
    count: element('member-count'),
    note: element('presence-note'),
    self: clientId,
    log,
  });
  const channel = realtime.channels.get(name, { params: { rewind: String(RECENT_MESSAGES) } });
  let everConnected = false;
  let failedBefore = false; // an attempt to connect failed before the first success
  let attachedBefore = false;
  let entered = false; // in presence (see enterPresence)
  let stopped = null; // the final problem, once there is one: nothing retries after it
  let composerUsed = false;
  let tokenRefusals = 0; // token errors on the connection since it was last connected
  let gapNoted = false; // the conversation already says messages may be missing (see noteGap)
  let turnTimer = null; // the attempt asked for at the token function's Retry-After (see waitTurn)

  // Until the room first opens, the empty conversation says what it is waiting for.
  function showWaiting() {
    if (!attachedBefore && !stopped) {
      log.setEmpty(waitingFor(realtime.connection.state, channel.state, { failedBefore }));
    }
  }

  function updateComposer() {
    const usable =
      !stopped &&
      everConnected &&
      channel.state !== 'failed' &&
      QUEUEING_STATES.has(realtime.connection.state);
    messageInput.disabled = !usable;
    sendButton.disabled = !usable;
    if (usable && !composerUsed) {
      composerUsed = true;
      messageInput.focus();
    }
  }

  // The token function answered 429 with a Retry-After: ably-js retries on its own clock (and the
  // authCallback holds off until then), so the page asks for an attempt at the time it was given.
  function waitTurn() {
    const retryAt = tracker.failure && tracker.failure.retryAt;
    if (!retryAt || turnTimer !== null) return;
    turnTimer = setTimeout(
      () => {
        turnTimer = null;
        if (!stopped && realtime.connection.state !== 'connected') realtime.connect();
      },
      Math.max(0, retryAt - Date.now()),
    );
  }

  function report(reason, where) {
    if (stopped) return;
    if (where === 'connection' && isTokenError(reason)) tokenRefusals += 1;
    const problem = explain(reason, { tracker, channelName: name, everConnected, where, tokenRefusals });
    if (!problem) return;
    showProblem(problem);
    if (problem.final) {
      stopped = problem;
      realtime.close(); // a configuration problem does not fix itself: stop asking every 15 s
      log.setEmpty(null);
      updateComposer();
    }
  }

  // One line in the conversation per gap, however it showed: Ably lost continuity (80020, on the
  // connection or the channel), or the channel attached again without resuming.
  function noteGap(reason) {
    if (gapNoted) return;
    gapNoted = true;
    log.addNotice(
      reason && reason.code === CONTINUITY_LOST
        ? 'Some messages may be missing: Ably could not deliver all of them to this page (error 80020). ' +
            'The chat carries on.'
        : 'Reconnected. Messages sent while you were away may be missing.',
    );
  }

  realtime.connection.on((change) => {
    const state = change.current;
    if (!everConnected && (state === 'disconnected' || state === 'suspended')) failedBefore = true;
    if (change.reason && change.reason.code === CONTINUITY_LOST && attachedBefore) noteGap(change.reason);
    if (state === 'connected') {
      everConnected = true;
      tokenRefusals = 0;
      if (!stopped) clearProblem(); // stale reasons (e.g. 80008 after a server restart) go too
      members.refresh(channel.presence);
    } else if (state === 'suspended' && !stopped) {
      showProblem(throttled(tracker) || offlineProblem()); // waiting its turn is not being offline
    } else if (change.reason) {
      report(change.reason, 'connection');
    }
    if (state === 'disconnected' || state === 'suspended') waitTurn();
    members.setStale(presenceNote(state, { everConnected, stopped }));
    showStatus(state, { everConnected, stopped });
    showWaiting();
    updateComposer();
  });

  channel.on((change) => {
    if (change.current === 'failed') report(change.reason, 'channel');
    if (change.current === 'attached') {
      // ably-js re-attached by itself (or Ably said continuity was lost on the attached channel, an
      // UPDATE): some messages may not have arrived.
      if (attachedBefore && !change.resumed) noteGap(change.reason);
      if (!attachedBefore) {
        setTimeout(() => {
          if (!stopped) log.setEmpty('empty');
        }, EMPTY_ROOM_GRACE_MS);
      }
      attachedBefore = true;
      gapNoted = false; // live again: a later gap gets its own line
      if (!entered) enterPresence();
      members.refresh(channel.presence);
    }
    showWaiting();
    updateComposer();
  });

  // A channel that could not attach for now (an attach timed out, the connection dropped) is attached
  // again by ably-js and only waited for; a refusal (the channel failed, or presence was refused on an
  // attached channel) is reported.
  const onChannelError = (error) => {
    if (channel.state !== 'suspended' && channel.state !== 'attaching') report(error, 'channel');
  };
  // Entered once the channel is attached, and again on a later attach if that failed: ably-js re-enters
  // by itself only members it once entered.
  function enterPresence() {
    channel.presence.enter().then(() => {
      entered = true;
    }, onChannelError);
  }
  channel
    .subscribe(MESSAGE_NAME, (message) => log.addMessage(message, message.clientId === clientId))
    .catch(onChannelError);
  channel.presence.subscribe(() => members.refresh(channel.presence)).catch(onChannelError);

  element('publish').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = messageInput.value.trim();
    const length = [...text].length;
    const tooLong = length > MAX_MESSAGE_LENGTH;
    showFieldError(
      messageInput,
      element('message-error'),
      tooLong ? `Messages can be at most ${MAX_MESSAGE_LENGTH} characters; this one has ${length}.` : null,
    );
    if (!text || tooLong) return;
    const id = newMessageId();
    log.addPending(id, clientId, text);
    messageInput.value = '';
    channel.publish({ name: MESSAGE_NAME, data: { text }, id }).then(
      () => log.sent(id),
      (error) => {
        if (error.code === SENDING_TOO_FAST) tooFast(id, text);
        else log.notSent(id, error.code ? `${error.message} (${error.code})` : error.message);
      },
    );
  });

  // Ably refused a publish past the rate the token allows (42911, nonfatal): the connection is fine, so
  // no banner and nothing reconnects; the text goes back in the composer (if nothing else is being typed
  // there) and the reason is said beside it.
  function tooFast(id, text) {
    const restorable = !messageInput.value.trim();
    if (restorable && log.withdraw(id)) messageInput.value = text;
    else log.notSent(id, 'you were sending too fast (42911)');
    showFieldError(
      messageInput,
      element('message-error'),
      'You are sending too fast. Wait a moment, then send again.',
    );
  }
}

function setUpJoinForm() {
  element('join-channel').textContent = channelName();
  nameInput.value = rememberedName();
  // Wake the token function while the visitor types, so Join does not wait for a cold start.
  nameInput.addEventListener('focus', warmUp);
  nameInput.addEventListener('input', warmUp);
  if (document.activeElement === nameInput) warmUp();

  let checked = false; // after the first Join attempt, the reason updates as the name is edited
  const errorElement = element('name-error');
  nameInput.addEventListener('input', () => {
    const name = nameInput.value.trim();
    const problem = nameProblem(name);
    // Too long is said while typing (nothing is cut silently); the rest once Join was tried.
    if (checked || !problem || nameTooLong(name)) {
      showFieldError(nameInput, errorElement, problem);
    }
  });
  joinForm.addEventListener('submit', (event) => {
    event.preventDefault();
    checked = true;
    const name = nameInput.value.trim();
    const problem = nameProblem(name);
    showFieldError(nameInput, errorElement, problem);
    if (problem) {
      nameInput.focus();
      return;
    }
    rememberName(name);
    join(name);
  });
}

setUpJoinForm();
