// The chat page: authenticate through the token function, then publish, subscribe and show presence.
// Everything received is rendered with textContent, so message text can never become markup.
import * as Ably from 'ably';

const TOKEN_URL = '/.netlify/functions/ably-token-request';
const MESSAGE_NAME = 'chat';
const STATE_LABELS = {
  initialized: 'Not connected',
  connecting: 'Connecting…',
  connected: 'Connected',
  disconnected: 'Disconnected, retrying',
  suspended: 'Suspended, retrying',
  closing: 'Closing',
  closed: 'Closed',
  failed: 'Failed',
};

const element = (id) => document.getElementById(id);
const status = element('status');
const joinForm = element('join');
const room = element('room');
const messageInput = element('message');
const sendButton = element('send');
const messages = element('messages');
const members = element('members');

// Only the dev server adds this tag (host, port, tls for the local realtime service);
// the published page has none and talks to the real Ably.
function devClientOptions() {
  const meta = document.querySelector('meta[name="ably-client-options"]');
  return meta ? JSON.parse(meta.content) : {};
}

function channelName() {
  return new URLSearchParams(window.location.search).get('channel') || 'chat:lobby';
}

function showState(state, reason) {
  status.dataset.state = state;
  const label = STATE_LABELS[state] || state;
  // ably-js wraps an authUrl failure (80019/40170); its cause carries the token function's own message.
  const cause = reason && reason.cause && reason.cause.message ? ` ${reason.cause.message}` : '';
  status.textContent = reason ? `${label}: ${reason.message} (${reason.code})${cause}` : label;
  const connected = state === 'connected';
  const wasDisabled = messageInput.disabled;
  messageInput.disabled = !connected;
  sendButton.disabled = !connected;
  if (connected && wasDisabled) messageInput.focus();
}

function showError(error) {
  status.dataset.state = 'failed';
  status.textContent = `Error: ${error.message}${error.code ? ` (${error.code})` : ''}`;
}

function addMessage(message) {
  const item = document.createElement('li');
  item.dataset.clientId = message.clientId || '';
  const meta = document.createElement('span');
  meta.className = 'meta';
  const sender = document.createElement('span');
  sender.className = 'sender';
  sender.textContent = message.clientId || 'anonymous';
  const time = document.createElement('time');
  const sent = new Date(message.timestamp || Date.now());
  time.dateTime = sent.toISOString();
  time.textContent = sent.toLocaleTimeString();
  meta.append(sender, time);
  const text = document.createElement('span');
  text.className = 'text';
  text.textContent = String(message.data && message.data.text !== undefined ? message.data.text : message.data);
  item.append(meta, text);
  messages.append(item);
  messages.scrollTop = messages.scrollHeight;
}

async function showMembers(channel) {
  const present = await channel.presence.get();
  const names = [...new Set(present.map((member) => member.clientId))].sort();
  members.replaceChildren(
    ...names.map((name) => {
      const item = document.createElement('li');
      item.textContent = name;
      return item;
    }),
  );
}

function join(clientId) {
  joinForm.hidden = true;
  room.hidden = false;
  const name = channelName();
  element('channel-name').textContent = name;

  const realtime = new Ably.Realtime({
    authUrl: TOKEN_URL,
    authParams: { clientId },
    clientId,
    ...devClientOptions(),
  });
  realtime.connection.on((change) => showState(change.current, change.reason));

  const channel = realtime.channels.get(name);
  channel.subscribe(MESSAGE_NAME, addMessage).catch(showError);
  channel.presence.subscribe(() => showMembers(channel).catch(showError));
  channel.presence
    .enter()
    .then(() => showMembers(channel))
    .catch(showError);

  element('publish').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = messageInput.value.trim();
    if (!text) return;
    channel
      .publish(MESSAGE_NAME, { text })
      .then(() => {
        messageInput.value = '';
        messageInput.focus();
      })
      .catch(showError);
  });
}

joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const clientId = element('name').value.trim();
  if (clientId) join(clientId);
});
