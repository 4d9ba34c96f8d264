"""The customer survey page: plain server-rendered HTML on the bot's aiohttp server.

`register(web_app, service)` adds `GET /survey/{token}` (the form) and `POST
/survey/{token}` (the answer) to the one web server Slack and Teams share;
`serve_in_background(service, port)` runs them alone for the terminal chat. Links
are made by `/integrity customers link` (see `bot.core.survey` for the token, the
one-answer rule and the CSRF token of the form).

What the page keeps to: no cookies, no scripts, no third-party anything, no
tracking; nothing about the request (address, browser, time) reaches the store,
only the answers and the day. Every refusal is a page that says what happened and
what to do: a forged or expired link, a link already answered, a stale form, a body
over `MAX_BODY` bytes, and more than `RATE_LIMIT` requests to one link within
`RATE_WINDOW` seconds (counted per link, never per address). The HTML is one
column that works on a phone, with fieldsets, legends and labels for screen readers.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Mapping
from html import escape
from urllib.parse import parse_qs, urlsplit

from aiohttp import web

from bot.core import survey
from bot.core.domain import Question
from bot.core.errors import InvalidAnswer
from bot.core.service import MAX_SURVEY_QUESTIONS, IntegrityCheck

logger = logging.getLogger(__name__)

#: The largest answer accepted: room for every question's comment at its limit, each
#: character percent-encoded as up to 9 bytes (3 UTF-8 bytes), and no more.
MAX_BODY = MAX_SURVEY_QUESTIONS * survey.MAX_COMMENT_CHARS * 9 + 4096
#: Requests one link may make in `RATE_WINDOW` seconds (viewing and sending together).
RATE_LIMIT = 20
RATE_WINDOW = 600.0
#: How many links the rate limit remembers at once (the oldest are forgotten first).
RATE_MEMORY = 10_000

_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}


class LinkRateLimit:
    """At most `limit` requests per link in any `window` seconds, in memory."""

    def __init__(
        self, limit: int = RATE_LIMIT, window: float = RATE_WINDOW, memory: int = RATE_MEMORY
    ) -> None:
        self.limit, self.window, self.memory = limit, window, memory
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._seen.pop(key, None) or deque()
            while times and now - times[0] >= self.window:
                times.popleft()
            allowed = len(times) < self.limit
            if allowed:
                times.append(now)
            self._seen[key] = times  # most recent last
            while len(self._seen) > self.memory:
                self._seen.popitem(last=False)
            return allowed


def register(
    web_app: web.Application, service: IntegrityCheck, limiter: LinkRateLimit | None = None
) -> None:
    """Mount the survey page on the bot's web server."""
    pages = _SurveyPages(service, limiter or LinkRateLimit())
    web_app.router.add_get("/survey/{token}", pages.show)
    web_app.router.add_post("/survey/{token}", pages.answer)


class _SurveyPages:
    def __init__(self, service: IntegrityCheck, limiter: LinkRateLimit) -> None:
        self.service = service
        self.limiter = limiter

    def _limited(self, token: str) -> web.Response | None:
        if self.limiter.allow(survey.rate_key(self.service.settings.secret, token)):
            return None
        return _page(
            "Too many tries",
            "<p>This link has been opened or sent too many times in a short while, so it is "
            "resting for a few minutes. Please wait ten minutes and open it again.</p>",
            status=429,
            headers={"Retry-After": str(int(RATE_WINDOW))},
        )

    async def show(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        limited = self._limited(token)
        if limited is not None:
            return limited
        try:
            questions, form = self.service.survey_form(token)
        except survey.SurveyRefused as refused:
            return _refused(refused)
        return _form(token, questions, form, self.service.customer_note())

    async def answer(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        limited = self._limited(token)
        if limited is not None:
            return limited
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _too_big()
        if request.content_type != "application/x-www-form-urlencoded":
            return _page(
                "This answer could not be read",
                "<p>Please answer on the survey page itself, with its Send button.</p>",
                status=415,
            )
        origin = request.headers.get("Origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.host:
            return _page(
                "This answer came from another site",
                "<p>Answers are only taken from the survey page itself. Please open your "
                "link and answer there.</p>",
                status=403,
            )
        body = bytearray()
        async for chunk in request.content.iter_chunked(4096):
            body += chunk
            if len(body) > MAX_BODY:
                return _too_big()
        try:
            fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=64)
        except ValueError:  # more fields than any survey form has
            return _page(
                "This answer could not be read",
                "<p>Please answer on the survey page itself, with its Send button.</p>",
                status=400,
            )
        values = {name: items[-1] for name, items in fields.items()}
        ratings = _prefixed(values, "rating-")
        comments = _prefixed(values, "comment-")
        try:
            self.service.answer_survey(token, values.get("form", ""), ratings, comments)
        except survey.SurveyRefused as refused:
            return _refused(refused)
        except InvalidAnswer as problem:
            try:
                questions, form = self.service.survey_form(token)
            except survey.SurveyRefused as refused:
                return _refused(refused)
            return _form(
                token, questions, form, self.service.customer_note(),
                error=str(problem), ratings=ratings, comments=comments, status=400,
            )  # fmt: skip
        return _page(
            "Thank you",
            "<p>Your answer is saved. We read every one, beside what our own people believe, "
            "and we will tell you what we are changing.</p>"
            "<p>We keep your answers and the day you gave them: no name, no address, no "
            "cookie, nothing about your device.</p>" + _note(self.service.customer_note()),
        )


def _prefixed(values: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {k.removeprefix(prefix): v for k, v in values.items() if k.startswith(prefix)}


def _too_big() -> web.Response:
    return _page(
        "This answer is too long",
        f"<p>The form sent more than {MAX_BODY // 1024} KB, which is more than any answer "
        "needs. Please shorten your comments and send it again.</p>",
        status=413,
        headers={"Connection": "close"},
    )


def _refused(refused: survey.SurveyRefused) -> web.Response:
    titles = {
        "forged": "This link is not valid",
        "expired": "This link has expired",
        "used": "This link has already been answered",
        "stale-form": "This form has expired",
        "invalid": "This survey is closed",
    }
    status = {"forged": 404, "expired": 410, "used": 409, "stale-form": 403}.get(
        refused.reason, 410
    )
    return _page(
        titles.get(refused.reason, "This survey cannot be answered"),
        f"<p>{escape(str(refused))}</p>",
        status=status,
    )


def _note(note: tuple | None) -> str:
    if note is None:
        return ""
    text, day = note
    return (
        '<aside aria-labelledby="heard"><h2 id="heard">What we heard, what we are changing</h2>'
        f'<p>{escape(text)}</p><p class="when">Written {day:%d %B %Y}.</p></aside>'
    )


def _form(
    token: str,
    questions: list[Question],
    form: str,
    note: tuple | None,
    *,
    error: str = "",
    ratings: Mapping[str, str] | None = None,
    comments: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    ratings, comments = ratings or {}, comments or {}
    parts = [
        "<p>We ask our own people the same questions. Your answers show us whether we see "
        "ourselves as you see us. It takes a minute.</p>",
        _note(note),
    ]
    if error:
        parts.append(f'<p class="error" role="alert">{escape(error)}</p>')
    parts.append(f'<form method="post" action="/survey/{escape(token)}">')
    parts.append(f'<input type="hidden" name="form" value="{escape(form)}">')
    for number, question in enumerate(questions, start=1):
        version = question.customer
        assert version is not None
        qid = escape(question.id)
        choices = []
        for value in range(1, 6):
            label = {1: version.low_label, 5: version.high_label}.get(value, "")
            checked = " checked" if ratings.get(question.id) == str(value) else ""
            choices.append(
                f'<li><input type="radio" id="r-{qid}-{value}" name="rating-{qid}" '
                f'value="{value}" required{checked}>'
                f'<label for="r-{qid}-{value}"><b>{value}</b>'
                + (f" {escape(label)}" if label else "")
                + "</label></li>"
            )
        parts.append(
            f'<fieldset><legend><span class="n">{number}.</span> {escape(version.text)}'
            "</legend>"
            f'<ul class="scale">{"".join(choices)}</ul>'
            f'<label class="why" for="c-{qid}">{escape(version.why_prompt)} '
            '<span class="optional">(optional)</span></label>'
            f'<textarea id="c-{qid}" name="comment-{qid}" rows="4" '
            f'maxlength="{survey.MAX_COMMENT_CHARS}">{escape(comments.get(question.id, ""))}'
            "</textarea></fieldset>"
        )
    parts.append('<button type="submit">Send my answers</button></form>')
    parts.append(
        '<p class="privacy">We keep your answers and the day you gave them. No name, no e-mail, '
        "no address, no cookie, nothing about your device.</p>"
    )
    return _page("A few questions about us", "".join(parts), status=status)


_STYLE = """
body{font:1.05rem/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1b1b1b;
background:#f6f6f4}
main{max-width:38rem;margin:0 auto;padding:1rem 1.1rem 3rem}
h1{font-size:1.5rem;margin:1.2rem 0 .6rem}
fieldset{border:1px solid #c9c9c4;border-radius:.5rem;background:#fff;margin:1.2rem 0;
padding:.8rem 1rem 1rem}
legend{font-weight:600;padding:0 .3rem}
.scale{list-style:none;margin:.6rem 0;padding:0}
.scale li{margin:.35rem 0}
.scale input{width:1.3rem;height:1.3rem;vertical-align:middle;margin-right:.5rem}
.scale label{vertical-align:middle}
.why{display:block;margin-top:.8rem}
.optional,.when,.privacy{color:#555;font-size:.92rem}
textarea{box-sizing:border-box;width:100%;font:inherit;margin-top:.3rem;padding:.5rem;
border:1px solid #8a8a85;border-radius:.4rem}
button{font:inherit;font-weight:600;padding:.8rem 1.4rem;border:0;border-radius:.5rem;
background:#1f4e9c;color:#fff;width:100%;margin-top:.6rem}
button:focus,input:focus,textarea:focus{outline:3px solid #f0b400;outline-offset:2px}
aside{background:#eef3fb;border-left:4px solid #1f4e9c;padding:.4rem 1rem;margin:1rem 0}
aside h2{font-size:1.05rem;margin:.4rem 0}
.error{background:#fdecea;border-left:4px solid #c0392b;padding:.6rem 1rem}
"""


def _page(
    title: str, body: str, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{escape(title)}</h1>{body}</main></body></html>"
    )
    return web.Response(
        body=html.encode("utf-8"), status=status, headers={**_HEADERS, **(headers or {})}
    )


def serve_in_background(service: IntegrityCheck, port: int, host: str = "127.0.0.1") -> str:
    """Serve the survey page alone (the terminal chat's process) in a daemon thread;
    the base URL once it listens, or ConnectionError saying why it could not."""
    started = threading.Event()
    failure: list[BaseException] = []
    bound: list[int] = []

    async def serve() -> None:
        web_app = web.Application()
        register(web_app, service)
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as error:
            failure.append(error)
            started.set()
            await runner.cleanup()
            return
        sockets = [s for s in (runner.addresses or [])]
        bound.append(int(sockets[0][1]) if sockets else port)
        started.set()
        await asyncio.Event().wait()  # until the process ends

    thread = threading.Thread(target=lambda: asyncio.run(serve()), name="survey", daemon=True)
    thread.start()
    started.wait(timeout=10)
    if failure or not bound:
        reason = failure[0] if failure else "it did not start in time"
        raise ConnectionError(f"the survey page could not listen on {host}:{port} ({reason})")
    return f"http://{host}:{bound[0]}"
