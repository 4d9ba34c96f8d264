"""The command line of `run_bot.py`: one parser, a subcommand for each job.

    python run_bot.py [chat] [--user NAME]     the chat: the terminal unless a platform is set
    python run_bot.py analyse FILE [...]       analyse answers exported from anywhere
    python run_bot.py export [...]             export answers, the anonymity floor applied
    python run_bot.py customers import FILE    import customer answers from a survey tool
    python run_bot.py teams-package [--out F]  zip the Teams app manifest for upload

`CLI_COMMANDS` is the single source of each subcommand's usage and purpose: the
parser's help and the README's table both come from it (tests/test_docs.py).
`run_bot.py` passes in what needs wiring (building the core, starting the chat),
so this module only reads arguments and reports errors: exit 2 with one line on
stderr for anything the user can fix.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.anonymity import DEFAULT_FLOOR, LEAST_FLOOR, Floor
from bot.core.errors import IntegrityError, UsageError
from bot.core.replies import counted


@dataclass(frozen=True)
class CliCommand:
    usage: str
    what: str


CLI_COMMANDS: dict[str, CliCommand] = {
    "chat": CliCommand(
        "python run_bot.py [chat] [--user NAME]",
        "the chat: the terminal chat unless a platform is configured",
    ),
    "export": CliCommand(
        "python run_bot.py export [--format csv|jsonl] [--rounds all|last|N|N-M|N,M] "
        "[--team T] [--out FILE]",
        "export answers, anonymity floor applied, no identities; the JSONL reads back into "
        "`analyse`",
    ),
    "analyse": CliCommand(
        "python run_bot.py analyse FILE [--json] [--engine offline|llm] [--min-group N] "
        "[--scale 1-5|1-7|1-10|0-10]",
        "analyse answers exported from anywhere (CSV or JSONL)",
    ),
    "customers": CliCommand(
        "python run_bot.py customers import FILE [--map MAPPING] [--scale nps|csat] [--keep-good]",
        "import customer answers (CSV or JSONL: score, comment, date, segment, question) "
        "from a survey tool; a file with a bad row is refused unless `--keep-good`",
    ),
    "teams-package": CliCommand(
        "python run_bot.py teams-package [--out FILE]",
        "zip `teams/manifest.json` and its icons, with `TEAMS_CLIENT_ID` filled in, for "
        "upload to Teams",
    ),
}

#: Builds (settings, store, service) for commands that read the database.
CoreFactory = Callable[[], tuple[Any, Any, Any]]


def parser() -> argparse.ArgumentParser:
    """The whole command line, one subparser per entry of `CLI_COMMANDS`."""
    main = argparse.ArgumentParser(
        prog="run_bot.py",
        description="Integrity Check: the customer-loyalty integrity check chat bot.",
        epilog="\n".join(f"{c.usage}\n    {c.what}" for c in CLI_COMMANDS.values()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    main.add_argument("--user", help="terminal chat: who you are (a demo person's name)")
    sub = main.add_subparsers(dest="command", metavar="{" + ",".join(CLI_COMMANDS) + "}")

    def command(name: str, **extra) -> argparse.ArgumentParser:
        entry = CLI_COMMANDS[name]
        usage = entry.usage.removeprefix("python ")
        return sub.add_parser(name, usage=usage, help=entry.what, description=entry.what, **extra)

    chat = command("chat")
    chat.add_argument("--user", help="who you are (a demo person's name)")

    analyse = command("analyse", aliases=["analyze"])
    analyse.add_argument("file", type=Path, help="a .csv, .jsonl or .ndjson export of answers")
    analyse.add_argument("--json", action="store_true", help="print the analysis as JSON")
    analyse.add_argument(
        "--engine",
        choices=("offline", "llm"),
        default="offline",
        help="offline (default, no network) or llm (needs INTEGRITY_LLM)",
    )
    analyse.add_argument(
        "--scale",
        choices=("1-5", "1-7", "1-10", "0-10"),
        default="1-5",
        help="the scale the file's ratings use (default 1-5); others are read onto 1-5",
    )
    analyse.add_argument(
        "--min-group",
        type=int,
        default=None,
        help="anonymity floor: hide any question × role group with fewer answers "
        f"(default {DEFAULT_FLOOR}, or INTEGRITY_MIN_GROUP; never below {LEAST_FLOOR})",
    )

    export = command("export")
    export.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    export.add_argument("--rounds", default="all", help="all, last, N, N-M or N,M (default all)")
    export.add_argument("--team", help="only this team's answers")
    export.add_argument("--out", help="file to write (default: standard output)")

    customers = command("customers")
    customers_sub = customers.add_subparsers(dest="customers_command", metavar="{import}")
    customers_import = customers_sub.add_parser(
        "import",
        usage=CLI_COMMANDS["customers"].usage.removeprefix("python "),
        help="import customer answers from a CSV or JSONL file",
    )
    customers_import.add_argument("file", type=Path, help="a .csv or .jsonl file of answers")
    customers_import.add_argument(
        "--map", type=Path, help="a YAML/JSON mapping of your columns and questions to ours"
    )
    customers_import.add_argument(
        "--scale",
        choices=("nps", "csat"),
        help="the scores' scale: NPS 0-10 or CSAT 1-5 (default: read from the scores)",
    )
    customers_import.add_argument(
        "--keep-good",
        action="store_true",
        help="store the good rows even when some are bad (default: store nothing)",
    )

    package = command("teams-package")
    package.add_argument("--out", default="integrity-check-teams.zip", help="the zip to write")
    return main


def main(
    argv: list[str] | None = None,
    *,
    chat: Callable[[argparse.Namespace], int] | None = None,
    core: CoreFactory | None = None,
) -> int:
    """Parse `argv` and run its command; the exit code (2: a mistake the user can fix)."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parser().parse_args(argv)
    except SystemExit as exit_:  # argparse has printed the usage and the problem
        return int(exit_.code or 0) and 2
    try:
        if args.command in (None, "chat"):
            if chat is None:
                raise UsageError("The chat is started by run_bot.py.")
            return chat(args)
        if args.command in ("analyse", "analyze"):
            return _analyse(args)
        if args.command == "export":
            if core is None:
                raise UsageError("Export needs the database: run it through run_bot.py.")
            return _export(args, core)
        if args.command == "customers":
            if core is None:
                raise UsageError("The import needs the database: run it through run_bot.py.")
            if args.customers_command != "import":
                raise UsageError(f"Usage: {CLI_COMMANDS['customers'].usage}")
            return _customers_import(args, core)
        return _teams_package(args)
    except IntegrityError as error:
        print(f"integrity: {error}", file=sys.stderr)
        return 2


def min_group_from(value: int | None) -> int:
    """The anonymity floor to use: the option, else INTEGRITY_MIN_GROUP, else 5; never below 3."""
    if value is not None:
        return Floor.parse(value, setting="--min-group").size
    return Floor.parse(os.environ.get("INTEGRITY_MIN_GROUP")).size


def _analyse(args: argparse.Namespace) -> int:
    from bot.analysis.engine import analyse
    from bot.analysis.loader import COLUMNS, bank_question_infos, read_export
    from bot.core.settings import Settings

    min_group = min_group_from(args.min_group)
    export = read_export(args.file, args.scale)
    answers = export.answers
    if export.ignored:
        print(
            f"integrity: {args.file.name}: not read, columns {', '.join(export.ignored)}. "
            f"The analysis reads {', '.join(COLUMNS)}: rename a column that holds one of "
            "them.",
            file=sys.stderr,
        )
    llm = None
    if args.engine == "llm":
        from bot.analysis.llm import model_from_env  # raises ConfigError without INTEGRITY_LLM

        llm = model_from_env()
    # The bank gives the scale's ends (to read a stance from words) and the follow-ups.
    bank = Path(os.environ.get("INTEGRITY_QUESTIONS") or Settings.questions_file)
    questions = bank_question_infos(answers, bank)
    analysis = analyse(answers, min_group=min_group, questions=questions, llm=llm)
    if args.json:
        print(json.dumps(analysis.model_dump(), ensure_ascii=False, indent=2))
        return 0
    from rich.console import Console

    from bot.adapters.terminal import print_reply
    from bot.analysis.render import to_reply

    print_reply(Console(), to_reply(analysis, title=f"Integrity check: {args.file.name}"))
    return 0


def _export(args: argparse.Namespace, core: CoreFactory) -> int:
    """Write answers as CSV or JSONL (the floor applied, no identities) to a file or stdout."""
    settings, _store, service = core(existing=True)
    words = args.rounds if args.rounds in ("all", "last") else f"rounds {args.rounds}"
    scope = service.scope(
        None,
        words + (f" {args.team}" if args.team else ""),
        usage=f"`{CLI_COMMANDS['export'].usage}`",
    )
    export = service.export_jsonl if args.format == "jsonl" else service.export_csv
    content = export(None, scope)
    from bot.core.commands import export_hidden_note
    from bot.core.summaries import open_rounds_sentence

    hidden = export_hidden_note(service, scope, len(service.export_rows(None, scope)))
    if hidden:
        print(f"integrity: {hidden}".replace("`", ""), file=sys.stderr)
    still_open = [r for r in scope.rounds if r.is_open]
    if still_open:
        print(f"integrity: {open_rounds_sentence(still_open)}", file=sys.stderr)
    if args.out:
        try:
            with open(args.out, "wb") as f:
                f.write(content)
        except OSError as error:
            raise UsageError(
                f"Cannot write {args.out}: {error.strerror or error}. Choose another --out file."
            ) from None
        print(f"Wrote {scope.label} to {args.out}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(content)
    return 0


def _customers_import(args: argparse.Namespace, core: CoreFactory) -> int:
    """Read a file of customer answers; store it whole, or (with --keep-good) its good rows."""
    from bot.core.customers import MAX_REPORTED_ERRORS, read_customer_file, read_mapping

    mapping = read_mapping(args.map) if args.map else None
    _settings, _store, service = core()
    report = read_customer_file(
        args.file,
        service.questions(active_only=False),
        mapping,
        scale=args.scale,
        today=service.now().date(),
    )
    for error in report.errors[:MAX_REPORTED_ERRORS]:
        print(f"integrity: {error}", file=sys.stderr)
    if len(report.errors) > MAX_REPORTED_ERRORS:
        print(
            "integrity: … and "
            f"{counted(len(report.errors) - MAX_REPORTED_ERRORS, 'more bad row')}.",
            file=sys.stderr,
        )
    read_as = f"read as {report.scale.upper()}" + (
        f" (use --scale {'csat' if report.scale == 'nps' else 'nps'} if that is wrong)"
        if report.scale_inferred
        else ""
    )
    if report.errors and not args.keep_good:
        rows = counted(len(report.errors) + len(report.good), "row")
        are, them = ("is", "it") if len(report.errors) == 1 else ("are", "them")
        print(
            f"integrity: nothing was imported: {len(report.errors)} of {rows} {are} bad. "
            f"Fix {them}, or run again with --keep-good to import the good rows only.",
            file=sys.stderr,
        )
        return 2
    stored = service.add_customer_answers(report.good, "import")
    skipped = f", {counted(len(report.errors), 'bad row')} left out" if report.errors else ""
    print(f"Imported {counted(stored, 'customer answer')} from {args.file}, {read_as}{skipped}.")
    return 0


def _teams_package(args: argparse.Namespace) -> int:
    from bot.adapters.teams.package import build

    path = build(os.environ, Path(args.out))
    print(f"Wrote the Teams app package to {path}; upload it in Teams admin center.")
    return 0
