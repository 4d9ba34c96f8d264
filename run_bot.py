"""Integrity Check's entry point: it wires, and only wires.

It reads the settings, builds the store, the core and the adapters, and starts
them; the command line itself (`chat`, `analyse`, `export`, `teams-package`) is
`bot.cli`.

    python run_bot.py                 # the chat: the terminal by default
    python run_bot.py --help          # every command
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from bot import cli
from bot.core.errors import ConfigError


def main(argv: list[str] | None = None) -> int:
    return cli.main(argv, chat=run_chat_or_server, core=build_core)


def build_core(*, existing: bool = False):
    """Settings, the store and the core service: what every way of running shares.
    `existing`: open an existing database read-only, never creating or changing it (export)."""
    from bot.core.service import IntegrityCheck
    from bot.core.settings import Settings
    from bot.store import Store

    settings = Settings.from_env()
    if existing and not settings.db_path.exists():
        raise ConfigError(
            f"There is no database at {settings.db_path}; set INTEGRITY_DB to the bot's "
            "database file."
        )
    store = Store(settings.db_path, read_only=existing)
    return settings, store, IntegrityCheck(store, settings, analyser=_analyser(settings))


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def run_chat_or_server(args: argparse.Namespace) -> int:
    """The chat: the web server when a platform is configured, else the terminal chat."""
    level = os.environ.get("INTEGRITY_LOG_LEVEL", "WARNING").upper()
    if platforms_configured(os.environ):
        logging.basicConfig(level=level, format=LOG_FORMAT)
        return run_server(os.environ)
    from bot.core.settings import Settings

    # The terminal chat's screen is stdout and stderr: log records go to a file
    # beside the database, never into the middle of the conversation.
    log_file = Settings.from_env().db_path.with_suffix(".log")
    logging.basicConfig(level=level, format=LOG_FORMAT, handlers=[QuietFileHandler(log_file)])
    logging.captureWarnings(True)
    return run_chat(args.user or os.environ.get("INTEGRITY_USER"))


class QuietFileHandler(logging.FileHandler):
    """A log file that never writes to the screen: when it cannot be written (a full
    disk, a read-only folder), the record is dropped; the chat tells the user itself."""

    def __init__(self, path) -> None:
        super().__init__(path, encoding="utf-8", delay=True)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        pass


def platforms_configured(env) -> bool:
    """True when a chat platform is configured; otherwise the terminal chat runs."""
    from bot.adapters.web import platforms_configured as configured

    return bool(configured(env))


def run_server(env) -> int:
    """Serve the configured platforms from one aiohttp server, with the weekly scheduler."""
    from aiohttp import web

    from bot.adapters.web import build_server

    settings, _store, service = build_core()
    settings.require_key_apart()  # a copy of the database's folder must not carry the key
    web_app, messengers = build_server(service, env)
    port = _port(env)
    logging.getLogger(__name__).warning(
        "Integrity Check serving %s on port %s", ", ".join(messengers), port
    )
    # No client address in the access log: customers answer the survey page here too.
    web.run_app(web_app, port=port, print=None, access_log_format='"%r" %s %b %Tf')
    return 0


def _port(env) -> int:
    raw = env.get("PORT", "3000")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 5) or not 0 < int(raw) < 65536:
        raise ConfigError(f"PORT is {raw!r}: give a port number such as 3000.")
    return int(raw)


def run_chat(user: str | None) -> int:
    """Wire the core to the terminal chat and run it on standard input."""
    from rich.console import Console

    from bot.adapters.terminal import TerminalChat
    from bot.core.demo import WORKSPACE, seed_demo

    settings, store, service = build_core()
    logging.getLogger(__name__).info("Terminal chat on the database %s", settings.db_path)
    seeded = False
    if settings.demo and not service.people("terminal", WORKSPACE) and not service.rounds():
        seed_demo(store, settings)
        seeded = True
    service.close_due_rounds()
    console = Console(width=None if sys.stdout.isatty() else 110)
    files = settings.db_path.resolve().parent / "exports"
    chat = TerminalChat(service, console, workspace=WORKSPACE, user=user, files_dir=files)
    chat.greet(seeded=seeded)
    if seeded:
        console.print(f"The demo lives in [bold]{settings.db_path}[/bold]; delete it to restart.")
    _serve_survey(service, console)
    return chat.run(sys.stdin, echo=not sys.stdin.isatty())


def _serve_survey(service, console) -> None:
    """The customer survey page, served by this process while the terminal chat runs (on
    127.0.0.1 and PORT); a busy port is told, not fatal."""
    from bot.adapters.survey import serve_in_background

    try:
        url = serve_in_background(service, _port(os.environ))
    except ConnectionError as error:
        console.print(f"The customer survey page is off: {error}. Set PORT to a free port.")
        return
    console.print(
        f"Customer survey pages are served at {url}/survey/… while this chat runs; "
        "`/integrity customers link` makes one.",
        style="dim",
    )


def _analyser(settings):
    """The analysis engine, with the configured LLM when INTEGRITY_LLM is set."""
    if not settings.llm:
        return None  # the core loads the offline engine on the first summary
    from functools import partial

    from bot.analysis.engine import analyse
    from bot.analysis.llm import model_from_env  # a ConfigError names what to set

    return partial(analyse, llm=model_from_env())


if __name__ == "__main__":
    sys.exit(main())
