"""Integrity Check's entry point: read settings, build the store, the core and the
adapters, and start them.

    python run_bot.py                 # the chat: the terminal by default
    python run_bot.py analyse FILE    # analyse answers exported from anywhere
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from bot.errors import IntegrityError


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["analyse"], ["analyze"]):
        from bot.analysis.cli import run as run_analyse

        return run_analyse(argv[1:])

    parser = argparse.ArgumentParser(
        prog="run_bot.py",
        description="Integrity Check: the customer-loyalty integrity check chat bot.",
        epilog="Subcommands: `analyse FILE [--json] [--engine offline|llm] [--min-group N]`.",
    )
    parser.add_argument("--user", help="terminal chat: who you are (a demo person's name)")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=os.environ.get("INTEGRITY_LOG_LEVEL", "WARNING").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return run_chat(args.user or os.environ.get("INTEGRITY_USER"))
    except IntegrityError as error:
        print(f"integrity: {error}", file=sys.stderr)
        return 2


def run_chat(user: str | None) -> int:
    """Wire the core to the terminal chat and run it on standard input."""
    from rich.console import Console

    from bot.adapters.terminal import TerminalChat
    from bot.demo import WORKSPACE, seed_demo
    from bot.service import IntegrityCheck
    from bot.settings import Settings
    from bot.store import Store

    settings = Settings.from_env()
    store = Store(settings.db_path)
    service = IntegrityCheck(store, settings, analyser=_analyser(settings))
    seeded = False
    if settings.demo and not store.people():
        seed_demo(store, settings)
        seeded = True
    service.close_due_rounds()
    console = Console(width=None if sys.stdout.isatty() else 110)
    chat = TerminalChat(service, console, workspace=WORKSPACE, user=user)
    chat.greet(seeded=seeded)
    if seeded:
        console.print(f"The demo lives in [bold]{settings.db_path}[/bold]; delete it to restart.")
    return chat.run(sys.stdin, echo=not sys.stdin.isatty())


def _analyser(settings):
    """The analysis engine, with the configured LLM when INTEGRITY_LLM is set."""
    if not settings.llm:
        return None  # the core loads the offline engine on the first summary
    from functools import partial

    from bot.analysis.engine import analyse
    from bot.analysis.llm import model_from_env

    return partial(analyse, llm=model_from_env())


if __name__ == "__main__":
    sys.exit(main())
