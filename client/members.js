// Who is online: a count, the visitor marked "(you)" and listed first, greyed while the connection is
// down (the list may be out of date), and joins and leaves reported to the chat log.
import { nameElement } from './chat-log.js';
import { roleTags, trustedRoles } from './roles.js';

const PHONE = window.matchMedia('(max-width: 40rem)');

export class Members {
  constructor({ panel, list, count, note, self, log }) {
    Object.assign(this, { panel, list, count, note, self, log });
    this.known = null; // names at the last refresh; null until the first, which announces nobody
    this.refreshing = Promise.resolve();
    // Open beside the chat on wide screens; one tappable line above it on phones.
    panel.open = !PHONE.matches;
    PHONE.addEventListener('change', (event) => {
      panel.open = !event.matches;
    });
  }

  /**
   * Serialised so that two quick presence events cannot announce the same join twice. A failed read
   * (the channel failed or detached) is the channel's problem, reported by its own state change.
   */
  refresh(presence) {
    this.refreshing = this.refreshing
      .then(() => presence.get())
      .then((members) => this.show(members))
      .catch(() => {});
  }

  show(members) {
    const names = new Set(members.map((member) => member.clientId));
    const roles = new Map(); // a person on several devices: the roles Ably stamped on any of them
    for (const member of members) {
      if (!roles.get(member.clientId)?.length) roles.set(member.clientId, trustedRoles(member.extras));
    }
    if (this.known) {
      const others = (from, without) => [...from].filter((name) => !without.has(name) && name !== this.self);
      for (const name of others(names, this.known)) this.log.addNotice('joined', { name });
      for (const name of others(this.known, names)) this.log.addNotice('left', { name });
    }
    this.known = names;
    const rank = (name) => (name === this.self ? 0 : 1); // you first, then everyone by name
    const sorted = [...names].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    this.list.replaceChildren(
      ...sorted.map((name) => {
        // The dot and the name are flex items aligned on their first baseline: a long name wraps
        // beside the dot instead of leaving it alone on a line above.
        const item = document.createElement('li');
        const dot = document.createElement('span');
        dot.className = 'member-dot';
        dot.setAttribute('aria-hidden', 'true');
        const label = document.createElement('span');
        label.className = 'member';
        label.append(nameElement(name, 'member-name'), ...roleTags(roles.get(name)));
        if (name === this.self) {
          const you = document.createElement('span');
          you.className = 'you';
          you.textContent = ' (you)';
          label.append(you);
        }
        item.append(dot, label);
        return item;
      }),
    );
    this.count.textContent = String(names.size);
  }

  /** While not connected the list is what it was, not what it is: greyed, with why (or '' when live). */
  setStale(why) {
    this.panel.dataset.stale = String(Boolean(why));
    this.note.textContent = why ? ` · ${why}` : '';
  }
}
