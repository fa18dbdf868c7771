"""The page with the token function in JWT mode and the local service's claims and publish limits.

The dev server runs the real function with ABLY_TOKEN_FORMAT=jwt and ABLY_PUBLISH_MAX_RATE (one publish
every 2 s per attachment) and the real local service, which stamps a JWT's `ably.channel.*` claim into
`extras.userClaim` and refuses a publish past the rate with 42911. A Netlify Identity user's roles reach
the function only through Netlify's gateway, which the dev server does not have: for the moderator, a route
plays that gateway, calling the same function code with the Identity context Netlify would give it.
"""

import base64
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, Route, expect

from devserver.testing import RunningDevServer, running_devserver
from tests.client.browser import (
    TIMEOUT_MS,
    assert_accessible,
    join,
    open_tab,
    resize,
    screenshot,
    send,
    show_online,
)
from tests.client.test_browser_layout import overflow_problems
from tests.client.test_browser_rate_limits import sending_too_fast
from tests.function.conftest import FunctionUnderTest
from tests.function.events import identity_context, netlify_event

TOKEN_REQUESTS = "**/ably-token-request?clientId=*"
PUBLISH_MAX_RATE = "0.5"  # publishes a second: one every 2 s
MODERATOR = "Mara, moderator of this room, with a name as long as the form allows (64)."[:64]


@contextmanager
def jwt_mode() -> Iterator[RunningDevServer]:
    """The dev server (in this process) with the function in JWT mode; the function reads the variables
    when it is first called, on the dev server's first request."""
    variables = {"ABLY_TOKEN_FORMAT": "jwt", "ABLY_PUBLISH_MAX_RATE": PUBLISH_MAX_RATE}
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        with running_devserver() as running:
            yield running
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def server() -> Iterator[RunningDevServer]:
    with jwt_mode() as running:
        yield running


def identity_gateway(server: RunningDevServer, user: dict[str, Any]) -> Callable[[Route], None]:
    """Netlify's gateway for a logged-in Identity user: the function's own code, with the user's context."""
    key = server.realtime.api_key
    environ = {"ABLY_API_KEY": key, "ABLY_TOKEN_FORMAT": "jwt"}
    function = FunctionUnderTest(environ, secrets=(key.split(":", 1)[1],))  # never in an answer or log

    def answer(route: Route) -> None:
        query: dict[str, str | list[str]] = dict(parse_qsl(urlsplit(route.request.url).query))
        response = function(netlify_event(query=query), identity_context(user)).response
        route.fulfill(status=response["statusCode"], headers=response["headers"], body=response["body"])

    return answer


def token_answers(page: Page) -> list[str]:
    """The Content-Type of each of the function's token answers (warm-ups left out)."""
    types: list[str] = []
    page.on(
        "response",
        lambda response: (
            types.append(response.headers.get("content-type", ""))
            if "ably-token-request?clientId" in response.url
            else None
        ),
    )
    return types


def requests_to(page: Page, pattern: str) -> list[str]:
    seen: list[str] = []

    def noted(request: Request) -> None:
        if re.search(pattern, request.url):
            seen.append(f"{request.method} {request.url}")

    page.on("request", noted)
    return seen


def test_the_page_joins_with_the_functions_jwt(browser: Browser, server: RunningDevServer) -> None:
    tab = open_tab(browser)
    answers = token_answers(tab.page)
    exchanges = requests_to(tab.page, r"/keys/[^/]+/requestToken")
    join(tab, f"{server.url}/?channel=chat:jwt-{time.time_ns()}", "jo")
    send(tab.page, "hello with a JWT")
    expect(tab.page.locator("#messages .message:not([data-status]) .text")).to_have_text(
        ["hello with a JWT"], timeout=TIMEOUT_MS
    )
    expect(tab.page.locator("#members li")).to_have_text(["jo (you)"], timeout=TIMEOUT_MS)
    assert [answer.split(";")[0] for answer in answers] == ["application/jwt"]
    assert exchanges == []  # connected with the JWT itself: nothing to exchange at requestToken
    assert tab.errors == []
    tab.page.context.close()


def test_a_moderator_is_tagged_from_the_signed_claim_and_nothing_else(
    browser: Browser, server: RunningDevServer
) -> None:
    channel = f"chat:roles-{time.time_ns()}"
    url = f"{server.url}/?channel={channel}"
    viewer, moderator = open_tab(browser), open_tab(browser, "phone")
    moderator.page.context.route(
        TOKEN_REQUESTS,
        identity_gateway(server, {"sub": MODERATOR, "app_metadata": {"roles": ["moderator"]}}),
    )
    join(viewer, url, "viewer")
    join(moderator, url, MODERATOR)
    send(moderator.page, "I keep this room tidy.")
    mallory = forge_a_moderator(server, channel)

    page = viewer.page
    messages = page.locator("#messages .message:not([data-status])")
    expect(messages.locator(".text")).to_have_text(
        ["I keep this room tidy.", "I am a moderator too, says my own data."], timeout=TIMEOUT_MS
    )
    expect(messages.nth(0).locator(".role")).to_have_text(["moderator"])
    expect(messages.nth(1).locator(".role")).to_have_count(0)  # written by the client: never a role
    expect(messages.nth(1).locator(".sender")).to_have_text(mallory)
    members = page.locator("#members li")
    expect(members).to_have_text(["viewer (you)", f"{MODERATOR}moderator"], timeout=TIMEOUT_MS)
    expect(members.nth(1).locator(".role")).to_have_text("moderator")
    own = moderator.page.locator("#messages .message:not([data-status])")  # Ably's echo carries it too
    expect(own.locator(".role")).to_have_text(["moderator"], timeout=TIMEOUT_MS)

    for width in (1280, 390, 320):  # the tag stays inside the card beside a 64-character name
        resize(page, width, 800)
        show_online(page)
        problems = overflow_problems(page)
        assert not problems, f"at {width} px wide:\n" + "\n".join(problems)
    page.set_viewport_size({"width": 1280, "height": 800})
    screenshot(page, "jwt-moderator-tag-desktop")
    screenshot(moderator.page, "jwt-moderator-tag-phone")
    assert_accessible(page, "moderator tag")
    assert viewer.errors == []
    assert moderator.errors == []
    for tab in (viewer, moderator):
        tab.page.context.close()


def forge_a_moderator(server: RunningDevServer, channel: str) -> str:
    """An anonymous visitor's own JWT from the function, used over REST to claim a role in every place a
    client can write one: its message's data and its own extras.userClaim (the local service drops that,
    as docs/local-service.md says). Returns the visitor's name."""
    name = "mallory"
    token = httpx.get(f"{server.url}/.netlify/functions/ably-token-request", params={"clientId": name}).text
    forged = {
        "name": "chat",
        "data": json.dumps({"text": "I am a moderator too, says my own data.", "role": "moderator"}),
        "encoding": "json",
        "extras": {"userClaim": json.dumps({"roles": ["moderator"]})},
    }
    answer = httpx.post(
        f"{server.url}/channels/{channel}/messages",
        json=forged,
        headers={"Authorization": "Bearer " + base64_text(token)},
    )
    assert answer.status_code == 201, answer.text  # published, the forged userClaim dropped (as the docs say)
    return name


def base64_text(text: str) -> str:
    """A token as ably-js sends it to REST: base64 in a Bearer header."""
    return base64.b64encode(text.encode()).decode()


def test_past_the_jwts_publish_rate_the_text_stays_in_the_composer(
    browser: Browser, server: RunningDevServer
) -> None:
    sending_too_fast(browser, server.url, "jwt-too-fast")  # ABLY_PUBLISH_MAX_RATE: one every 2 s
