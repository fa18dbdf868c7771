"""A long-lived health probe for tests/realtime/test_hostile.py: the chat page in real Chromium.

For each line `check URL NAME` on stdin two new visitors (each in a fresh browser context) open the page at
URL and join; each must connect and see itself among the members, a message one sends must be acknowledged
and shown to the other, and neither may show a problem banner or an uncaught error. It prints one JSON line:
{"ok": true}, or the reason. It runs in a process of its own, so that Playwright's event loop never meets
the test's.

Run: python -m tests.realtime.page_probe
"""

import asyncio
import json
import sys
import uuid
from typing import Any

from playwright.async_api import Browser, Error, Page, async_playwright, expect

from tests.client.browser import CHROMIUM, CHROMIUM_FLAGS, TIMEOUT_MS

# A problem that arrives a little after the page settled (a continuity loss, a dropped connection) still
# counts: the page is watched this long after its message was delivered.
SETTLE_MS = 500


class Visitor:
    def __init__(self, page: Page, name: str) -> None:
        self.page = page
        self.name = name
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    async def join(self, url: str) -> None:
        page = self.page
        await page.goto(url)
        await page.get_by_label("Your name").fill(self.name)
        await page.get_by_role("button", name="Join chat").click()
        await expect(page.locator("#status")).to_have_attribute("data-state", "connected", timeout=TIMEOUT_MS)
        mine = page.locator("#members li").filter(has_text=f"{self.name} (you)")
        await expect(mine).to_have_count(1, timeout=TIMEOUT_MS)

    async def problem(self) -> str | None:
        banner = self.page.locator("#banner")
        if await banner.is_visible():
            return f"{self.name}'s problem banner: {await banner.inner_text()!r}"
        if self.errors:
            return f"{self.name}'s page errors: {self.errors}"
        return None


async def check(browser: Browser, url: str, name: str) -> dict[str, Any]:
    contexts = [await browser.new_context() for _ in range(2)]
    sender = Visitor(await contexts[0].new_page(), name)
    receiver = Visitor(await contexts[1].new_page(), f"{name}-b")
    try:
        await asyncio.gather(sender.join(url), receiver.join(url))
        text = f"page probe {uuid.uuid4().hex[:8]}"
        await sender.page.get_by_label("Message").fill(text)
        await sender.page.get_by_label("Message").press("Enter")
        sent = sender.page.locator("#messages .message.own").filter(has_text=text)
        await expect(sent).to_have_count(1, timeout=TIMEOUT_MS)
        await expect(sent).not_to_have_attribute("data-status", "sending", timeout=TIMEOUT_MS)
        await expect(sent).not_to_have_attribute("data-status", "failed")
        received = receiver.page.locator("#messages .message.theirs").filter(has_text=text)
        await expect(received).to_have_count(1, timeout=TIMEOUT_MS)
        await sender.page.wait_for_timeout(SETTLE_MS)
        for visitor in (sender, receiver):
            await expect(visitor.page.locator("#status")).to_have_attribute("data-state", "connected")
            if (problem := await visitor.problem()) is not None:
                return {"ok": False, "error": problem}
        return {"ok": True}
    except (AssertionError, Error) as error:
        problems = [await visitor.problem() for visitor in (sender, receiver)]
        return {"ok": False, "error": f"{str(error).splitlines()[0]} ({problems})"}
    finally:
        for context in contexts:
            await context.close()


async def main() -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        while line := await asyncio.to_thread(sys.stdin.readline):
            command, url, name = line.split()
            if command == "check":
                print(json.dumps(await check(browser, url, name)), flush=True)
        await browser.close()


if __name__ == "__main__":
    asyncio.run(main())
