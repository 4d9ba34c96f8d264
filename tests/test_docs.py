"""The README is the contract: it documents every command and setting, and CI runs
exactly its test command."""

from __future__ import annotations

import re

from bot.core.commands import COMMANDS
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def _quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_readme_documents_every_command():
    for command in COMMANDS.values():
        assert f"`{command.usage.replace('|', chr(92) + '|')}`" in README, command.usage


def test_readme_documents_the_analyse_command_and_terminal_words():
    assert "python run_bot.py analyse FILE" in README
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
    run, test = _quick_start_commands()[:2]
    assert run == "python -m pip install -r requirements.txt && python run_bot.py"
    assert test.endswith("python -m pytest")
    assert test in (ROOT / ".ci" / "run").read_text().splitlines()
