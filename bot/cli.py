"""The `analyse` command: `python run_bot.py analyse FILE [--json] [--engine offline|llm]
[--min-group N]`.

It reads a CSV or JSONL export (see `bot.analysis.loader`), runs the analysis and
prints either the report or, with `--json`, exactly `Analysis.model_dump()` as
JSON. The anonymity floor defaults to 5 (or INTEGRITY_MIN_GROUP) and is never
below 3. Errors are printed to stderr with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from bot.core.errors import ConfigError, IntegrityError, UsageError

DEFAULT_MIN_GROUP = 5
USAGE = "analyse FILE [--json] [--engine offline|llm] [--min-group N]"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_bot.py analyse",
        usage=USAGE,
        description="Find themes and contradictions between executives and frontline in "
        "exported answers (CSV or JSONL).",
    )
    parser.add_argument("file", type=Path, help="a .csv, .jsonl or .ndjson export of answers")
    parser.add_argument("--json", action="store_true", help="print the analysis as JSON")
    parser.add_argument(
        "--engine",
        choices=("offline", "llm"),
        default="offline",
        help="offline (default, no network) or llm (needs INTEGRITY_LLM)",
    )
    parser.add_argument(
        "--min-group",
        type=int,
        default=None,
        help="anonymity floor: hide any question × role group with fewer answers "
        f"(default {DEFAULT_MIN_GROUP}, or INTEGRITY_MIN_GROUP; never below 3)",
    )
    return parser


def min_group_from(value: int | None) -> int:
    """The anonymity floor to use: the option, else INTEGRITY_MIN_GROUP, else 5; never below 3."""
    if value is None:
        raw = os.environ.get("INTEGRITY_MIN_GROUP", "").strip()
        if raw:
            try:
                value = int(raw)
            except ValueError:
                raise ConfigError(
                    f"INTEGRITY_MIN_GROUP is {raw!r}: set it to a whole number, 3 or more."
                ) from None
        else:
            value = DEFAULT_MIN_GROUP
    if value < 3:
        raise UsageError(
            f"The anonymity floor is never below 3 (you asked for {value}). "
            f"Use --min-group 3 or more. Usage: {USAGE}"
        )
    return value


def run(argv: list[str]) -> int:
    """Run `analyse` with command-line arguments; return the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has already printed the usage and the problem
        return int(exit_.code or 0) and 2
    try:
        return _run(args)
    except IntegrityError as error:
        print(str(error), file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from bot.analysis.engine import analyse
    from bot.analysis.loader import load_answers

    min_group = min_group_from(args.min_group)
    answers = load_answers(args.file)
    llm = None
    if args.engine == "llm":
        from bot.analysis.llm import model_from_env  # raises ConfigError without INTEGRITY_LLM

        llm = model_from_env()
    analysis = analyse(answers, min_group=min_group, llm=llm)
    if args.json:
        print(json.dumps(analysis.model_dump(), ensure_ascii=False, indent=2))
        return 0
    from bot.analysis.render import to_reply

    reply = to_reply(analysis, title=f"Integrity check: {args.file.name}")
    try:
        from bot.adapters.terminal import print_reply
    except ImportError:
        print(reply.as_text())
        return 0
    from rich.console import Console

    print_reply(Console(), reply)
    return 0
