import { roleTags, trustedRoles } from './roles.js';

// The message list: day dividers, consecutive messages from one person grouped under one name and time,
// own messages set apart, join/leave lines, and a "new messages" button instead of a forced scroll when
// the reader has scrolled up. Every piece of text is set with textContent, so nothing received is markup.

const GROUP_GAP_MS = 5 * 60 * 1000;
const AT_BOTTOM_PX = 48;
const EMPTY_TEXT = {
  connecting: 'Connecting…',
  'not-connected': 'Not connected yet. Recent messages appear once the page connects; it keeps trying.',
  loading: 'Loading recent messages…',
  'room-retrying': 'The room did not open in time. The page keeps trying.',
  empty: 'No messages yet. Say hello: everyone here sees it at once.',
};

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long' });
const yearDayFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'long', year: 'numeric' });

function dayKey(date) {
  return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;
}

function dayLabel(date, now = new Date()) {
  if (dayKey(date) === dayKey(now)) return 'Today';
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (dayKey(date) === dayKey(yesterday)) return 'Yesterday';
  return (date.getFullYear() === now.getFullYear() ? dayFormat : yearDayFormat).format(date);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * A person's name as typed: isolated from the text around it (a right-to-left name would otherwise
 * reorder the time or the words beside it), with the full name as its title where it is shortened.
 */
export function nameElement(name, className) {
  const node = el('bdi', className, name);
  node.title = name;
  return node;
}

/** Sets a <time> element to `time`: machine-readable in dateTime, hour and minute in its text. */
function setTime(stamp, time) {
  stamp.dateTime = time.toISOString();
  stamp.textContent = timeFormat.format(time);
}

export function messageText(data) {
  if (data && typeof data === 'object' && 'text' in data) return String(data.text);
  return typeof data === 'string' ? data : JSON.stringify(data);
}

/** Puts `roles` as tags between a message's sender and its time, replacing any it had. */
function showRoles(item, roles) {
  const meta = item.querySelector('.meta');
  meta.querySelectorAll('.role').forEach((tag) => tag.remove());
  meta.querySelector('.sender').after(...roleTags(roles));
}

export class ChatLog {
  constructor({ log, list, empty, marker }) {
    Object.assign(this, { log, list, empty, marker });
    this.seen = new Set(); // message ids: rewind after a reconnect must not show a message twice
    this.pending = new Map(); // id -> <li> of own messages not yet confirmed
    this.unread = 0;
    this.lastDay = null;
    this.setEmpty('connecting');
    log.addEventListener('scroll', () => {
      if (this.atBottom()) this.clearUnread();
    });
    marker.addEventListener('click', () => {
      this.scrollToEnd();
      log.focus();
    });
  }

  hasMessages() {
    return this.seen.size > 0 || this.pending.size > 0;
  }

  /** The placeholder in an empty list: a key of EMPTY_TEXT (status.js's waitingFor, or 'empty' once
   * the room is open with nothing recent) or null (none). */
  setEmpty(state) {
    this.empty.textContent = state ? EMPTY_TEXT[state] : '';
    this.empty.hidden = !state || this.hasMessages();
  }

  atBottom() {
    return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight <= AT_BOTTOM_PX;
  }

  scrollToEnd() {
    this.log.scrollTop = this.log.scrollHeight;
    this.clearUnread();
  }

  clearUnread() {
    this.unread = 0;
    this.marker.hidden = true;
  }

  /** Appends `item`, keeping the reader where they are unless they were already at the end. */
  append(item, { force = false, counts = true } = {}) {
    const follow = force || this.atBottom();
    this.list.append(item);
    if (this.hasMessages()) this.empty.hidden = true;
    if (follow) {
      this.scrollToEnd();
    } else if (counts) {
      this.unread += 1;
      this.marker.textContent = this.unread === 1 ? '1 new message ↓' : `${this.unread} new messages ↓`;
      this.marker.hidden = false;
    }
  }

  dividerFor(date) {
    const key = dayKey(date);
    if (key === this.lastDay) return;
    this.lastDay = key;
    const divider = el('li', 'day');
    divider.append(el('span', null, dayLabel(date)));
    this.list.append(divider);
  }

  /** A received message; the sender's own pending copy is confirmed instead of shown twice. */
  addMessage(message, own) {
    if (message.id && this.seen.has(message.id)) return;
    if (message.id) this.seen.add(message.id);
    const sent = new Date(message.timestamp || Date.now());
    const roles = trustedRoles(message.extras);
    const pending = message.id && this.pending.get(message.id);
    if (pending) {
      this.pending.delete(message.id);
      this.confirm(pending, sent);
      showRoles(pending, roles); // known once Ably has stamped the message
      return;
    }
    this.append(this.bubble(message.clientId, messageText(message.data), sent, own, roles));
  }

  /** An own message shown at once, marked as sending until Ably accepts it. */
  addPending(id, clientId, text) {
    const item = this.bubble(clientId, text, new Date(), true);
    item.dataset.status = 'sending';
    item.querySelector('.state').textContent = 'Sending…';
    this.pending.set(id, item);
    this.append(item, { force: true });
    return item;
  }

  sent(id) {
    const item = this.pending.get(id);
    if (!item) return;
    this.pending.delete(id);
    this.seen.add(id);
    this.confirm(item, null);
  }

  /**
   * An own message Ably refused for now (sending too fast): taken back off the list when nothing came
   * after it, so that it can be sent again from the composer; true when it was.
   */
  withdraw(id) {
    const item = this.pending.get(id);
    if (!item || item !== this.list.lastElementChild) return false;
    this.pending.delete(id);
    item.remove();
    if (!this.hasMessages()) this.empty.hidden = false;
    return true;
  }

  notSent(id, reason) {
    const item = this.pending.get(id);
    if (!item) return;
    this.pending.delete(id);
    item.dataset.status = 'failed';
    item.querySelector('.state').textContent = `Not sent: ${reason}`;
  }

  confirm(item, time) {
    delete item.dataset.status;
    item.querySelector('.state').textContent = '';
    if (time) setTime(item.querySelector('time'), time);
  }

  /**
   * "bob joined" and the like: part of the conversation's record, never grouped with messages. `name`,
   * when given, is isolated as a name is (nameElement) and put before `text`.
   */
  addNotice(text, { counts = false, name = null } = {}) {
    const now = new Date();
    this.dividerFor(now);
    const item = el('li', 'notice');
    const time = el('time');
    setTime(time, now);
    const said = el('span', 'notice-text');
    if (name !== null) said.append(nameElement(name, 'notice-name'), ' ');
    said.append(text);
    item.append(said, ' · ', time);
    this.append(item, { counts });
  }

  bubble(clientId, text, time, own, roles = []) {
    this.dividerFor(time);
    const previous = this.list.lastElementChild;
    const continues =
      previous &&
      previous.classList.contains('message') &&
      previous.dataset.clientId === clientId &&
      time - Number(previous.dataset.time) < GROUP_GAP_MS;
    const item = el('li', `message ${own ? 'own' : 'theirs'}${continues ? ' continued' : ''}`);
    item.dataset.clientId = clientId || '';
    item.dataset.time = String(time.getTime());
    const meta = el('p', continues ? 'meta visually-hidden' : 'meta');
    const stamp = el('time');
    setTime(stamp, time);
    stamp.title = time.toLocaleString();
    meta.append(nameElement(own ? 'You' : clientId || 'anonymous', 'sender'), ...roleTags(roles), ' ', stamp);
    const body = el('p', 'text', text);
    body.dir = 'auto'; // a message in a right-to-left script reads and aligns as one
    item.append(meta, body, el('p', 'state'));
    return item;
  }
}
