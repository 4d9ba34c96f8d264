"""The customer survey page, served by the real aiohttp server on 127.0.0.1: a headless
Chromium answers it; forged, expired, reused, oversized and flooding requests are refused
with a page that says so; and what is stored says nothing about who answered."""

from __future__ import annotations

import asyncio
import http.client
import re
import shutil
import threading
from collections.abc import Iterator
from datetime import timedelta
from html import unescape
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from aiohttp import web

from bot.adapters.survey import MAX_BODY, LinkRateLimit, register
from bot.core.commands import Commands
from tests.conftest import make_people

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AGENT = "SurveyTest/9.9 (Integrity check; +agent-marker)"


class Server:
    """The survey routes on a real aiohttp server in a thread of its own."""

    def __init__(self, service, limiter: LinkRateLimit) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self._thread = threading.Thread(target=self._run, args=(service, limiter), daemon=True)
        self._thread.start()
        assert self.ready.wait(10), "the survey server did not start"

    def _run(self, service, limiter) -> None:
        asyncio.set_event_loop(self.loop)
        web_app = web.Application()
        register(web_app, service, limiter)
        self.runner = web.AppRunner(web_app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = self.runner.addresses[0][1]
        self.ready.set()
        self.loop.run_forever()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@pytest.fixture
def limiter() -> LinkRateLimit:
    return LinkRateLimit(limit=20, window=600)


@pytest.fixture
def server(service, limiter) -> Iterator[Server]:
    running = Server(service, limiter)
    yield running
    running.stop()


@pytest.fixture
def link(service, admin, server) -> str:
    """A link for two questions, on the test server's address; the path part."""
    commands = Commands(service)
    text = commands.handle(admin, "/integrity customers link give-away serve").as_text()
    (url,) = re.findall(r"https?://\S+/survey/\S+", text)
    return urlsplit(url).path


def fetch(
    server: Server, method: str, path: str, body: bytes | None = None, headers: dict | None = None
) -> tuple[int, dict[str, str], str]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    sent = {"User-Agent": AGENT, **(headers or {})}
    if body is not None:
        sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
    connection.request(method, path, body=body, headers=sent)
    response = connection.getresponse()
    text = response.read().decode("utf-8")
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, text


def title(html: str) -> str:
    return unescape(re.search(r"<h1>(.*?)</h1>", html).group(1))


def form_fields(html: str) -> dict[str, str]:
    return {"form": unescape(re.search(r'name="form" value="([^"]+)"', html).group(1))}


def answer(server: Server, path: str, **extra: str) -> tuple[int, dict, str]:
    _, _, page = fetch(server, "GET", path)
    fields = {
        **form_fields(page),
        "rating-give-away": "2",
        "rating-serve-or-process": "1",
        "comment-give-away": "The other insurer answers the phone.",
        **extra,
    }
    return fetch(server, "POST", path, urlencode(fields).encode())


def test_the_form_is_plain_accessible_html_with_no_cookie(server, link):
    status, headers, page = fetch(server, "GET", link)
    assert status == 200 and title(page) == "A few questions about us"
    assert '<html lang="en">' in page and 'name="viewport"' in page
    assert "<script" not in page and "set-cookie" not in headers
    assert page.count("<fieldset>") == 2 and page.count("<legend>") == 2
    assert "If a competitor offered you the same for less" in page
    # Every radio and the comment box have their own label, for screen readers.
    for control in re.findall(r'<(?:input type="radio"|textarea) id="([^"]+)"', page):
        assert re.search(rf'<label[^>]* for="{control}"', page), control
    assert headers["cache-control"] == "no-store" and headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in headers["content-security-policy"]


def test_an_answer_is_stored_with_the_day_only_and_the_link_then_refuses(
    service, server, link, settings, clock
):
    status, headers, page = answer(server, link)
    assert status == 200 and title(page) == "Thank you" and "set-cookie" not in headers
    stored = service.store.customer_answers()
    assert [(a.question_id, a.rating, a.source) for a in stored] == [
        ("give-away", 2, "survey"),
        ("serve-or-process", 1, "survey"),
    ]
    assert stored[0].comment == "The other insurer answers the phone."
    assert stored[0].answered_on == clock.now.date() and stored[0].segment is None
    # Reused: refused on sight and on sending, and nothing more is stored.
    for method in ("GET", "POST"):
        if method == "GET":
            status, _, page = fetch(server, "GET", link)
        else:
            status, _, page = fetch(server, "POST", link, b"form=x&rating-give-away=5")
        assert status == 409 and title(page) == "This link has already been answered"
    assert len(service.store.customer_answers()) == 2
    # The store holds no address, no browser, no time of day; the link only as a hash.
    raw = b"".join(p.read_bytes() for p in settings.db_path.parent.glob("integrity.db*"))
    assert b"127.0.0.1" not in raw and b"agent-marker" not in raw and b"SurveyTest" not in raw
    assert link.split("/")[-1].encode() not in raw
    assert not re.search(rb"\d{4}-\d\d-\d\dT\d\d:\d\d", raw.split(b"customer_answers")[-1])


def test_a_forged_or_edited_link_is_refused(server, link):
    body, signature = link.rsplit("/", 1)[1].split(".")
    edited = f"/survey/{body[:-2]}AA.{signature}"
    for path in (edited, f"/survey/{body}.{'A' * 22}", "/survey/not-a-token"):
        status, _, page = fetch(server, "GET", path)
        assert status == 404 and title(page) == "This link is not valid"
        assert "open the link exactly as you received it" in page


def test_an_expired_link_is_refused(service, admin, server, clock):
    url, _, _ = service.make_survey_link(admin, ["give-away"], days=1)
    clock.now += timedelta(days=1, minutes=1)
    status, _, page = fetch(server, "GET", urlsplit(url).path)
    assert status == 410 and title(page) == "This link has expired"
    assert "ask us for a new link" in page


def test_a_form_without_its_token_or_from_another_site_is_refused(service, server, link):
    status, _, page = fetch(server, "POST", link, b"rating-give-away=2&rating-serve-or-process=2")
    assert status == 403 and title(page) == "This form has expired"
    status, _, page = answer(server, link, form="1700000000.forged")
    assert status == 403
    _, _, form = fetch(server, "GET", link)
    body = urlencode({**form_fields(form), "rating-give-away": "2", "rating-serve-or-process": "2"})
    status, _, page = fetch(server, "POST", link, body.encode(), {"Origin": "https://evil.example"})
    assert status == 403 and title(page) == "This answer came from another site"
    assert service.store.customer_answers() == []


def test_a_missing_rating_shows_the_form_again_with_what_was_written(service, server, link):
    status, _, page = answer(server, link, **{"rating-serve-or-process": ""})
    assert status == 400 and 'role="alert"' in page
    assert "Please choose an answer from 1 to 5 for every question." in page
    assert "The other insurer answers the phone." in page  # kept for the second try
    assert 'value="2" required checked' in page
    assert service.store.customer_answers() == []


def test_a_body_that_is_too_big_is_refused(service, server, link):
    _, _, page = fetch(server, "GET", link)
    huge = urlencode({**form_fields(page), "comment-give-away": "x" * (MAX_BODY + 10)})
    status, headers, page = fetch(server, "POST", link, huge.encode())
    assert status == 413 and title(page) == "This answer is too long"
    assert service.store.customer_answers() == []
    # A form stuffed with fields is refused as unreadable, not with a server error.
    stuffed = "&".join(f"f{i}=1" for i in range(100)).encode()
    status, _, page = fetch(server, "POST", link, stuffed)
    assert status == 400 and title(page) == "This answer could not be read"


def test_a_flood_past_the_rate_limit_is_refused_for_that_link_only(
    service, admin, server, link, limiter
):
    limiter.limit = 5
    statuses = [fetch(server, "GET", link)[0] for _ in range(5)]
    assert statuses == [200] * 5
    status, headers, page = fetch(server, "GET", link)
    assert status == 429 and title(page) == "Too many tries" and headers["retry-after"] == "600"
    status, _, _ = fetch(server, "POST", link, b"form=x")
    assert status == 429
    # Forged links are counted too, each by its own text; another link is untouched.
    other, _, _ = service.make_survey_link(admin, ["give-away"], days=3)
    assert fetch(server, "GET", urlsplit(other).path)[0] == 200


def test_the_note_for_customers_is_shown_on_the_page(service, admin, server, link):
    commands = Commands(service)
    commands.handle(admin, "/integrity customers note We heard you: calls are answered in 2 min.")
    _, _, page = fetch(server, "GET", link)
    assert "What we heard, what we are changing" in page
    assert "We heard you: calls are answered in 2 min." in page
    commands.handle(admin, "/integrity customers note off")
    assert "What we heard" not in fetch(server, "GET", link)[2]


def test_only_executives_and_admins_make_links(service, admin):
    commands = Commands(service)
    (worker,) = make_people(service, "frontline", 1)
    assert "Only executives and admins" in commands.handle(worker, "customers link").as_text()
    assert "Only executives and admins" in commands.handle(worker, "customers note hi").as_text()
    text = commands.handle(admin, "/integrity customers link nonsense").as_text()
    assert "There is no question 'nonsense' to ask customers" in text
    assert (
        "lasts 1 to 90 days" in commands.handle(admin, "customers link expires 400 days").as_text()
    )
    text = commands.handle(admin, "/integrity customers link give expires 3 days").as_text()
    assert "If a competitor offered you the same" in text and "/survey/" in text
    assert "Usage:" in commands.handle(admin, "/integrity customers").as_text()


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (see .ci/run)")
def test_a_customer_answers_in_a_real_browser(service, server, link, tmp_path):
    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{server.port}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 390, "height": 844}, user_agent=AGENT)
        page = context.new_page()
        page.goto(base + link)
        assert page.title() == "A few questions about us"
        # Found by their labels, as a screen reader user would.
        page.get_by_role("radio", name="2", exact=True).first.check()
        page.get_by_role("radio", name="1 Processed like a ticket").check()
        page.get_by_label("What would make you leave, or keep you here?").fill(
            "I stay for my advisor, but the phone queue is long."
        )
        page.screenshot(path=str(tmp_path / "survey.png"), full_page=True)
        page.get_by_role("button", name="Send my answers").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "Thank you"
        assert context.cookies() == []
        page.goto(base + link)
        assert page.locator("h1").inner_text() == "This link has already been answered"
        browser.close()
    stored = service.store.customer_answers()
    assert [(a.question_id, a.rating) for a in stored] == [
        ("give-away", 2),
        ("serve-or-process", 1),
    ]
    assert stored[0].comment == "I stay for my advisor, but the phone queue is long."
    assert (tmp_path / "survey.png").read_bytes().startswith(b"\x89PNG")
