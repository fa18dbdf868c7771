"""What the browser tests share: Chromium pages with axe-core, watched for errors, and artifacts/."""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from playwright.sync_api import Browser, ConsoleMessage, Page, ViewportSize, expect

from tests.client.devserver_process import ROOT

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = ROOT / "artifacts"
AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PAGE_DOCS = ROOT / "docs" / "page.md"  # where the page's behaviour is documented for its users
TIMEOUT_MS = 15_000
Scheme = Literal["light", "dark"]
SIZES: dict[str, ViewportSize] = {
    "desktop": {"width": 1280, "height": 800},
    "phone": {"width": 390, "height": 844},
}
SCHEMES: tuple[Scheme, ...] = ("light", "dark")
BLOCKING_IMPACTS = ("serious", "critical")
# Reports every text the header's status shows, from the page's first paint on.
STATUS_RECORDER = """addEventListener('DOMContentLoaded', () => {
  const text = document.getElementById('status-text');
  if (!text) return;
  const report = () => window.__headerShows(text.textContent);
  report();
  new MutationObserver(report).observe(text, { childList: true, characterData: true, subtree: true });
});"""


@dataclass
class Tab:
    """A page in its own browser context, with what it logged and threw kept for assertions."""

    page: Page
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # uncaught exceptions and unhandled rejections
    failed_requests: list[str] = field(default_factory=list)  # 4xx/5xx answers, e.g. a missing favicon
    header_states: set[str] = field(default_factory=set)  # every label the header's status showed

    def csp_violations(self) -> list[str]:
        return [line for line in self.console if "Content Security Policy" in line]


# Every tab opened since the last clear(): the browser tests' fixture checks what their headers showed.
OPENED_TABS: list[Tab] = []


def open_tab(browser: Browser, size: str = "desktop", scheme: Scheme = "light") -> Tab:
    """A page in a fresh context: its own storage and cache, like a new visitor."""
    context = browser.new_context(viewport=SIZES[size], color_scheme=scheme)
    states: set[str] = set()
    context.expose_function("__headerShows", lambda state: states.add(state))
    context.add_init_script(STATUS_RECORDER)
    tab = Tab(context.new_page(), header_states=states)
    OPENED_TABS.append(tab)
    tab.page.on("console", lambda message: _console(tab, message))
    tab.page.on("pageerror", lambda error: tab.errors.append(str(error)))
    tab.page.on(
        "response",
        lambda response: (
            tab.failed_requests.append(f"{response.status} {response.url}")
            if response.status >= 400
            else None
        ),
    )
    return tab


def _console(tab: Tab, message: ConsoleMessage) -> None:
    tab.console.append(message.text)
    if message.type == "error" and "Uncaught" in message.text:
        tab.errors.append(message.text)


def join(tab: Tab, url: str, name: str) -> None:
    tab.page.goto(url)
    tab.page.get_by_label("Your name").fill(name)
    tab.page.get_by_role("button", name="Join chat").click()
    expect(tab.page.locator("#status")).to_have_attribute("data-state", "connected", timeout=TIMEOUT_MS)


def send(page: Page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_label("Message").press("Enter")


def assert_accessible(page: Page, state: str) -> None:
    """axe-core at both sizes in both colour schemes: no serious or critical violation in this state.

    axe is evaluated through the DevTools protocol, which the page's Content-Security-Policy does not
    govern, so the page stays under the strict policy it ships with (and loads fast when not checked).
    """
    if not page.evaluate("typeof axe === 'object'"):
        page.evaluate(AXE_SCRIPT.read_text())
    viewport = page.viewport_size
    dark = page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    found: list[str] = []
    for size, dimensions in SIZES.items():
        page.set_viewport_size(dimensions)
        for scheme in SCHEMES:
            page.emulate_media(color_scheme=scheme)
            result: dict[str, Any] = page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
            found += [
                f"{state}, {size}, {scheme}: {violation['id']} ({violation['impact']}) {violation['help']}: "
                + ", ".join(str(node["target"]) for node in violation["nodes"][:3])
                for violation in result["violations"]
                if violation["impact"] in BLOCKING_IMPACTS
            ]
    page.emulate_media(color_scheme="dark" if dark else "light")
    if viewport is not None:
        page.set_viewport_size(viewport)
    assert not found, "\n".join(found)


def resize(page: Page, width: int, height: int) -> None:
    """Resizes the viewport and waits for the page to render at the new size: its media-query listeners
    (Online folds away on phones) run then, so looking at the page any earlier races them."""
    page.set_viewport_size({"width": width, "height": height})
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")


def show_online(page: Page) -> None:
    """Opens Online where the page folded it away (phones)."""
    if page.locator("#presence:not([open])").count():
        page.locator("#presence summary").click()
    expect(page.locator("#members")).to_be_visible()


def documented_header_states() -> list[str]:
    """The first column of the docs' table of header states (the row under `| the header says |`)."""
    lines = iter(PAGE_DOCS.read_text().splitlines())
    for line in lines:
        if line.startswith("| the header says |"):
            break
    else:
        raise AssertionError(f"no '| the header says |' table in {PAGE_DOCS}")
    next(lines)  # the |---| row
    states = []
    for line in lines:
        if not line.startswith("|"):
            break
        states.append(line.split("|")[1].strip())
    return states


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png")


def record_timings(**milliseconds: float) -> None:
    """Merge measured timings (ms) into artifacts/browser-timings.json and print them for the run log."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "browser-timings.json"
    timings = json.loads(path.read_text()) if path.exists() else {}
    timings |= {name: round(value) for name, value in milliseconds.items()}
    path.write_text(json.dumps(timings, indent=2))
    print(f"\nbrowser timings: {timings}")
