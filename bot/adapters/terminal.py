"""The terminal chat: the embedded default adapter, like a chat platform on stdin/stdout.

Lines are the same command words as the Slack slash command (`/integrity summary`,
or just `summary`), plus a few terminal-only ones: `/as NAME` to become another
person of the workspace (a known one: a typo is answered with the closest name,
never a new person), `/as new NAME` to add someone, `/people` to list them,
`/quit`. It reads standard input line by line, so it can be scripted:
`printf '/integrity summary\\n' | python run_bot.py`.
Replies are drawn with Rich; slow work (summary, trend) shows a status meanwhile.
"""

from __future__ import annotations

import getpass
import logging
import re
from collections.abc import Iterable
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table as RichTable

from bot.core.commands import Commands
from bot.core.domain import Person, Round
from bot.core.errors import IntegrityError, UsageError, failure_message
from bot.core.people import find_by_name, fold
from bot.core.replies import File, Heading, Note, Quote, Reply, Table, Text
from bot.core.service import IntegrityCheck

logger = logging.getLogger(__name__)

PLATFORM = "terminal"
#: Commands that take seconds (minutes with an LLM): a status shows they are working.
SLOW = {"summary": "Analysing the answers…", "trend": "Drawing the trend…"}
#: The longest name `/as new` takes (it is shown in every prompt).
MAX_NAME_CHARS = 80
#: Said with every name that matches no one.
SWITCH_HINT = "`/people` lists everyone; `/as new NAME` adds someone new."


def print_reply(console: Console, reply: Reply, files_dir: Path | None = None) -> None:
    """Draw a core reply in the terminal; files are saved and their path printed.

    A terminal has no "more" button: the part after the reply's fold follows a rule."""
    for index, block in enumerate(reply.blocks):
        if index == reply.fold:
            console.rule("[dim]more", style="dim")
        if isinstance(block, Heading):
            if len(block.text) > console.width - 10:
                console.print(f"[bold]{escape(block.text)}[/bold]")
                console.rule()
            else:
                console.rule(f"[bold]{escape(block.text)}")
        elif isinstance(block, Text):
            # A bare link stays one line, whatever the width, so it can be copied whole.
            link = block.text.startswith(("http://", "https://")) and " " not in block.text
            console.print(_markup(block.text), soft_wrap=link)
        elif isinstance(block, Note):
            console.print(_markup(block.text), style="dim")
        elif isinstance(block, Quote):
            # One indented line per quote (a panel took three or four): a summary's
            # eight quotes then fit on one screen with what they support.
            attribution = f" [dim]— {escape(block.attribution)}[/dim]" if block.attribution else ""
            console.print(
                Padding(f"[cyan]“{escape(block.text)}”[/cyan]{attribution}", (0, 0, 0, 3))
            )
        elif isinstance(block, Table):
            table = RichTable(title=escape(block.caption) or None, show_lines=False)
            for column in block.columns:
                table.add_column(escape(column), overflow="fold")
            for row in block.rows:
                table.add_row(*(escape(cell) for cell in row))
            console.print(table)
        elif isinstance(block, File):
            folder = files_dir or Path.cwd()
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / block.name
            path.write_bytes(block.content)
            console.print(f"Saved {block.title or block.name} to [bold]{path}[/bold]")


def _markup(text: str) -> str:
    """Core text as Rich markup: everything literal, `code` in bold."""
    return re.sub(r"`([^`]+)`", r"[bold]\1[/bold]", escape(text))


class TerminalChat:
    """A chat session in the terminal for the people of one workspace."""

    def __init__(
        self,
        service: IntegrityCheck,
        console: Console,
        *,
        workspace: str = "demo",
        user: str | None = None,
        files_dir: Path | None = None,
    ) -> None:
        self.service = service
        self.console = console
        self.workspace = workspace
        self.files_dir = files_dir
        self.commands = Commands(
            service, on_round_started=self.deliver_round, posts_summaries=False
        )
        self.person = self._first_person(user)

    def _first_person(self, user: str | None) -> Person:
        """`--user NAME`: a known person (a typo is an error naming the closest one);
        without it the first admin. In an empty workspace, whoever runs it is its admin."""
        people = self.service.people(PLATFORM, self.workspace)
        if people and user:
            return find_by_name(
                user, people, hint="Run it again with `--user` and a name from `/people`."
            )
        admins = [p for p in people if p.is_admin]
        if admins:
            return admins[0]
        if people:
            return people[0]
        name = " ".join((user or getpass.getuser()).split())
        if not name or len(name) > MAX_NAME_CHARS:
            raise UsageError(f"--user takes a name of 1 to {MAX_NAME_CHARS} characters.")
        person, _ = self.service.meet(PLATFORM, self.workspace, _user_id(name), name, grant="admin")
        return person

    def deliver_round(self, round_: Round) -> str:
        """In the terminal a round is 'delivered' to everyone's inbox: `answer` shows it."""
        people = self.service.people(PLATFORM, self.workspace)
        report = self.service.deliver(round_, people, lambda *_: "terminal")
        return f"Sent to {report.sent} people; each sees their questions with `/integrity answer`."

    def greet(self, *, seeded: bool) -> None:
        if seeded:
            self.console.print(
                "[bold]Welcome to Integrity Check.[/bold] This is a demo organisation: "
                "19 people, one finished round and one open round."
            )
        self.console.print(
            f"You are [bold]{escape(self.person.display_name)}[/bold] ({_role(self.person)}). "
            "Switch with `/as NAME` (see `/people`), type `/integrity help` for commands, "
            "`/quit` to leave."
        )

    def run(self, lines: Iterable[str], *, echo: bool = False) -> int:
        """Handle lines until they end or `/quit`; returns the exit code."""
        prompt_shown = not echo and self.console.is_terminal
        if prompt_shown:
            self.console.print(f"[bold green]{self.person.display_name}>[/] ", end="")
        for raw in lines:
            line = raw.strip()
            if echo and line:
                self.console.print(f"[bold green]{self.person.display_name}>[/] {line}")
            if line in ("/quit", "/exit", "quit", "exit"):
                break
            if line:
                self.handle(line)
            if prompt_shown:
                self.console.print(f"[bold green]{self.person.display_name}>[/] ", end="")
        return 0

    def handle(self, line: str) -> None:
        """One line of input: a terminal command or a core command."""
        words = line.split()
        word = words[0].lower()
        if word in ("/integrity", "integrity") and len(words) > 1:
            word = words[1].lower()
        try:
            if word == "/as":
                self._switch(line.split(maxsplit=1)[1] if " " in line else "")
            elif word == "/people":
                self._people()
            elif word in SLOW:
                command = line.split(maxsplit=1)[1] if word != words[0].lower() else line
                working = self.commands.progress(self.person, command) or SLOW[word]
                with self.console.status(working):
                    reply = self.commands.handle(self.person, line)
                print_reply(self.console, reply, self.files_dir)
            else:
                # Forgotten (forget-me) since the last line? Then start afresh.
                self.person = self.service.refresh(self.person)
                reply = self.commands.handle(self.person, line)
                print_reply(self.console, reply, self.files_dir)
        except IntegrityError as error:
            self.console.print(_markup(str(error)))
        except Exception as error:
            logger.exception("Command failed: %s", line)
            self.console.print(f"[red]{escape(failure_message(error))}[/red]")

    def _switch(self, name: str) -> None:
        """`/as NAME` becomes a known person; `/as new NAME` adds one (as frontline)."""
        people = self.service.people(PLATFORM, self.workspace)
        words = name.split(maxsplit=1)
        if words and words[0].lower() == "new":
            self._add(words[1] if len(words) > 1 else "", people)
            return
        if not name.strip():
            raise UsageError(f"Usage: `/as NAME`, e.g. `/as Jordan`. {SWITCH_HINT}")
        found = find_by_name(name, people, hint=SWITCH_HINT)
        self.person = found
        self.console.print(f"You are now {found.display_name} ({_role(found)}).")

    def _add(self, name: str, people: list[Person]) -> None:
        name = " ".join(name.split())
        if not name or len(name) > MAX_NAME_CHARS:
            raise UsageError(
                f"Usage: `/as new NAME`, a name of 1 to {MAX_NAME_CHARS} characters, e.g. "
                "`/as new Zoe Park`."
            )
        same = [p for p in people if fold(p.display_name) == fold(name)]
        user_id = _user_id(name)
        if same or any(p.user_id == user_id for p in people):
            known = same[0].display_name if same else name
            raise UsageError(f"{known} is already here: `/as {known}` switches to them.")
        person, _ = self.service.meet(PLATFORM, self.workspace, user_id, name)
        self.person = person
        self.console.print(
            f"{name} is new here and joins as frontline. An admin can change that with "
            f"`/integrity role @{person.user_id} executive`."
        )

    def _people(self) -> None:
        table = RichTable(title="People in this workspace")
        for column in ("name", "user", "role", "team"):
            table.add_column(column)
        for p in self.service.people(PLATFORM, self.workspace):
            table.add_row(escape(p.display_name), escape(p.user_id), _role(p), escape(p.team or ""))
        self.console.print(table)


def _role(person: Person) -> str:
    return person.role + (", admin" if person.is_admin else "")


def _user_id(name: str) -> str:
    """A terminal person's user id from their name: `Zoe Park` → `zoe-park` (mentionable)."""
    return "-".join(fold(name).split()) or "someone"
