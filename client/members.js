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
      const others = (from, without) => [...from].filter((name) => !without.has(name) && name !== this.self);
      for (const name of others(names, this.known)) this.log.addNotice(`${name} joined`);
      for (const name of others(this.known, names)) this.log.addNotice(`${name} left`);
    }
    this.known = names;
    const rank = (name) => (name === this.self ? 0 : 1); // you first, then everyone by name
    const sorted = [...names].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
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
