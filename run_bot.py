"""Integrity Check's entry point: read settings, build the store, the core and the
adapters, and start them.

    python run_bot.py                 # the chat: the terminal by default
    python run_bot.py analyse FILE    # analyse answers exported from anywhere
    python run_bot.py teams-package   # zip the Teams app manifest for upload
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from bot.core.errors import IntegrityError


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["analyse"], ["analyze"]):
        from bot.cli import run as run_analyse

        return run_analyse(argv[1:])

    if argv[:1] == ["export"]:
        return run_export(argv[1:])

    if argv[:1] == ["teams-package"]:
        from bot.adapters.teams.package import main as teams_package

        return teams_package(argv[1:])

    parser = argparse.ArgumentParser(
        prog="run_bot.py",
        description="Integrity Check: the customer-loyalty integrity check chat bot.",
        epilog="Subcommands: `analyse FILE [--json] [--engine offline|llm] [--min-group N]`, "
        "`export [--format csv|jsonl] [--rounds all|last|N|N-M|N,M] [--team T] [--out FILE]`, "
        "`teams-package [--out FILE]`.",
    )
    parser.add_argument("--user", help="terminal chat: who you are (a demo person's name)")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=os.environ.get("INTEGRITY_LOG_LEVEL", "WARNING").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if platforms_configured(os.environ):
            return run_server(os.environ)
        return run_chat(args.user or os.environ.get("INTEGRITY_USER"))
    except IntegrityError as error:
        print(f"integrity: {error}", file=sys.stderr)
        return 2


def build_core():
    """Settings, the store and the core service: what every way of running shares."""
    from bot.core.service import IntegrityCheck
    from bot.core.settings import Settings
    from bot.store import Store

    settings = Settings.from_env()
    store = Store(settings.db_path)
    return settings, store, IntegrityCheck(store, settings, analyser=_analyser(settings))


def platforms_configured(env) -> bool:
    """True when a chat platform is configured; otherwise the terminal chat runs."""
    from bot.adapters.web import platforms_configured as configured

    return bool(configured(env))


def run_server(env) -> int:
    """Serve the configured platforms from one aiohttp server, with the weekly scheduler."""
    from aiohttp import web

    from bot.adapters.web import build_server

    _settings, _store, service = build_core()
    web_app, messengers = build_server(service, env)
    port = _port(env)
    logging.getLogger(__name__).warning(
        "Integrity Check serving %s on port %s", ", ".join(messengers), port
    )
    web.run_app(web_app, port=port, print=None)
    return 0


def _port(env) -> int:
    from bot.core.errors import ConfigError

    raw = env.get("PORT", "3000")
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"PORT is {raw!r}: give a port number such as 3000.")
    return int(raw)


def run_chat(user: str | None) -> int:
    """Wire the core to the terminal chat and run it on standard input."""
    from rich.console import Console

    from bot.adapters.terminal import TerminalChat
    from bot.core.demo import WORKSPACE, seed_demo

    settings, store, service = build_core()
    seeded = False
    if settings.demo and not store.people():
        seed_demo(store, settings)
        seeded = True
    service.close_due_rounds()
    console = Console(width=None if sys.stdout.isatty() else 110)
    files = settings.db_path.resolve().parent / "exports"
    chat = TerminalChat(service, console, workspace=WORKSPACE, user=user, files_dir=files)
    chat.greet(seeded=seeded)
    if seeded:
        console.print(f"The demo lives in [bold]{settings.db_path}[/bold]; delete it to restart.")
    return chat.run(sys.stdin, echo=not sys.stdin.isatty())


def run_export(argv: list[str]) -> int:
    """Write answers as CSV or JSONL (the floor applied, no identities) to a file or stdout."""
    from bot.core.service import IntegrityCheck
    from bot.core.settings import Settings
    from bot.store import Store

    parser = argparse.ArgumentParser(prog="run_bot.py export", description=run_export.__doc__)
    parser.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    parser.add_argument("--rounds", default="all", help="all, last, N, N-M or N,M (default all)")
    parser.add_argument("--team", help="only this team's answers")
    parser.add_argument("--out", help="file to write (default: standard output)")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        if not settings.db_path.exists():
            print(f"integrity: there is no database at {settings.db_path}; set INTEGRITY_DB.")
            return 2
        service = IntegrityCheck(Store(settings.db_path), settings)
        words = args.rounds if args.rounds in ("all", "last") else f"rounds {args.rounds}"
        scope = service.scope(None, words + (f" {args.team}" if args.team else ""))
        export = service.export_jsonl if args.format == "jsonl" else service.export_csv
        content = export(None, scope)
    except IntegrityError as error:
        print(f"integrity: {error}", file=sys.stderr)
        return 2
    if args.out:
        with open(args.out, "wb") as f:
            f.write(content)
        print(f"Wrote {scope.label} to {args.out}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(content)
    return 0


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
