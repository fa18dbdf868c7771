// Who is online: a count, the visitor marked "(you)" and listed first, greyed while the connection is
// down (the list may be out of date), and joins and leaves reported to the chat log.
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
    if (this.known) {
      for (const name of names) if (!this.known.has(name) && name !== this.self) this.log.addNotice(`${name} joined`);
      for (const name of this.known) if (!names.has(name) && name !== this.self) this.log.addNotice(`${name} left`);
    }
    this.known = names;
    const sorted = [...names].sort((a, b) => (a === this.self ? -1 : b === this.self ? 1 : a.localeCompare(b)));
    this.list.replaceChildren(
      ...sorted.map((name) => {
        const item = document.createElement('li');
        item.textContent = name;
        if (name === this.self) {
          const you = document.createElement('span');
          you.className = 'you';
          you.textContent = ' (you)';
          item.append(you);
        }
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
