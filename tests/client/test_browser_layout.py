"""Names and messages of any allowed shape stay inside their cards, at every width.

The names are as long as the form allows (64 characters) and the messages as long as the composer
allows (2,000), in the shapes that break layouts: one word with no space to wrap at, a tower of
combining marks, right-to-left script, and emoji built of several code points.
"""

import time
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.client.browser import (
    TIMEOUT_MS,
    Tab,
    assert_accessible,
    join,
    open_tab,
    resize,
    screenshot,
    send,
    show_online,
)
from tests.client.devserver_process import DevServer

MARKS = "".join(chr(0x300 + i % 0x70) for i in range(63))  # combining diacritical marks
NAMES = {
    "word": "W" * 64,
    "marks": "Z" + MARKS,
    "right-to-left": "محمد" * 16,
    "emoji": "👩🏽‍🚀" * 16,  # woman, skin tone, zero-width joiner, rocket: 4 code points each
}
MESSAGES = {
    "word": "W" * 2000,
    "marks": ("Z" + MARKS[:39]) * 50,
    "right-to-left": ("שלום עולם 123 " * 143)[:2000],
    "emoji": "🦄" * 1000,
}
LINK = "https://example.com/" + "path/" * 396  # the viewer's own: 2,000 characters, no space
VIEWER = "viewer-" + "v" * 57  # 64 characters: the page's own long name, shown as "You" in its cards
CHECKED_WIDTHS = (1280, 900, 641, 640, 390, 320)

# Every text node in the room must lie within the card holding it, once what its clipping ancestors cut
# off is taken away; a clip that hides text horizontally must show "…"; no panel scrolls sideways; a
# shortened name keeps the full name in its title; each presence dot sits on its name's first line.
OVERFLOW_PROBLEMS = """() => {
  const problems = [];
  const CARDS = '.message .meta, .message .text, .notice, #members li, .room-title, #presence summary';
  const PANELS = '.conversation, .presence';
  const short = (node) =>
    `${node.className || node.tagName}: "${[...node.textContent].slice(0, 12).join('')}"`;
  const within = (inner, outer) => inner.left >= outer.left - 1 && inner.right <= outer.right + 1;
  const viewport = { left: 0, right: document.documentElement.clientWidth };

  for (const scroller of [document.documentElement, ...document.querySelectorAll('.log, ' + PANELS)]) {
    if (scroller.scrollWidth > scroller.clientWidth + 1) {
      const widths = `${scroller.scrollWidth} > ${scroller.clientWidth}`;
      problems.push(`${short(scroller)} scrolls sideways (${widths})`);
    }
  }
  for (const card of document.querySelectorAll(CARDS)) {
    if (card.closest('.visually-hidden')) continue;
    const box = card.getBoundingClientRect();
    if (!within(box, card.closest(PANELS).getBoundingClientRect()) || !within(box, viewport)) {
      problems.push(`${short(card)} sticks out of its panel or the window`);
    }
  }
  const texts = document.createTreeWalker(document.getElementById('room'), NodeFilter.SHOW_TEXT);
  for (let node = texts.nextNode(); node; node = texts.nextNode()) {
    const parent = node.parentElement;
    const card = parent.closest(CARDS);
    if (!node.textContent.trim() || !card || parent.closest('.visually-hidden')) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const rect of range.getClientRects()) {
      let shown = { left: rect.left, right: rect.right };
      for (let clip = parent; clip !== card.parentElement; clip = clip.parentElement) {
        const style = getComputedStyle(clip);
        if (style.overflowX === 'visible') continue;
        const edge = clip.getBoundingClientRect();
        if (!within(rect, edge) && style.textOverflow !== 'ellipsis') {
          problems.push(`${short(clip)} cuts text off without "…"`);
        }
        shown = { left: Math.max(shown.left, edge.left), right: Math.min(shown.right, edge.right) };
      }
      if (!within(shown, card.getBoundingClientRect())) {
        problems.push(`${short(parent)} overflows ${short(card)}`);
      }
    }
  }
  for (const name of document.querySelectorAll('#room bdi')) {
    if (name.scrollWidth > name.clientWidth + 1 && name.title !== name.textContent) {
      problems.push(`${short(name)} is shortened without the full name in its title`);
    }
  }
  for (const meta of document.querySelectorAll('.message:not(.continued) .meta')) {
    const sender = meta.querySelector('.sender').getBoundingClientRect();
    const time = meta.querySelector('time').getBoundingClientRect();
    if (time.left < sender.right - 1) problems.push(`the time of ${short(meta)} is not after the name`);
  }
  for (const member of document.querySelectorAll('#members li')) {
    const dot = member.querySelector('.member-dot').getBoundingClientRect();
    const range = document.createRange();
    range.selectNodeContents(member.querySelector('.member'));
    const firstLine = range.getClientRects()[0];
    const middle = (dot.top + dot.bottom) / 2;
    if (middle < firstLine.top || middle > firstLine.bottom) {
      problems.push(`the presence dot of ${short(member)} is not on the name's first line`);
    }
  }
  return problems;
}"""


def overflow_problems(page: Page) -> list[str]:
    problems: list[Any] = page.evaluate(OVERFLOW_PROBLEMS)
    return [str(problem) for problem in problems]


def test_long_names_and_messages_of_every_shape_stay_inside_their_cards(
    browser: Browser, server: DevServer
) -> None:
    url = f"{server.url}/?channel=chat:long-{time.time_ns()}"
    viewer = open_tab(browser)
    join(viewer, url, VIEWER)
    senders: list[Tab] = []
    for shape, name in NAMES.items():
        tab = open_tab(browser, "phone")
        join(tab, url, name)
        send(tab.page, MESSAGES[shape])
        senders.append(tab)
    send(viewer.page, LINK)
    page = viewer.page
    expect(page.locator("#messages .message:not([data-status]) .text")).to_have_count(
        len(MESSAGES) + 1, timeout=TIMEOUT_MS
    )
    expect(page.locator("#members li")).to_have_count(len(NAMES) + 1, timeout=TIMEOUT_MS)
    expect(page.locator("#messages .notice-text")).to_have_count(len(NAMES))
    for shape, name in NAMES.items():  # every name and message shown whole, as text
        expect(page.locator("#members .member-name", has_text=name)).to_have_count(1)
        expect(page.locator("#messages .sender", has_text=name)).to_have_attribute("title", name)
        assert page.locator("#messages .text").filter(has_text=MESSAGES[shape]).count() == 1, shape

    for width in CHECKED_WIDTHS:
        resize(page, width, 844 if width <= 640 else 800)
        show_online(page)  # collapsed on phones: Online is checked open
        problems = overflow_problems(page)
        assert not problems, f"at {width} px wide:\n" + "\n".join(problems)
        if width in (1280, 390):
            screenshot(page, f"layout-long-names-{'desktop' if width == 1280 else 'phone'}")
    resize(page, 390, 844)
    page.locator("#presence summary").click()  # Online folded away: the conversation from its start
    page.locator("#log").evaluate("log => { log.scrollTop = 0; }")
    screenshot(page, "layout-long-names-phone-conversation")
    assert_accessible(page, "long names and messages")
    assert viewer.errors == []
    for tab in (viewer, *senders):
        tab.page.context.close()
