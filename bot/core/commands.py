"""The `/integrity` command words, shared by every adapter.

`Commands.handle(person, text)` parses what followed `/integrity` (in a Slack
slash command, a Teams message or a terminal line) and returns a `Reply`. The
usage lines in `COMMANDS` are the single source of the help text, the error
messages and the README's command table (a test checks the README lists them).
"""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.core.domain import Person, Round
from bot.core.errors import IntegrityError, NotFound, UsageError, typed
from bot.core.privacy import privacy_reply
from bot.core.replies import File, Heading, Note, Reply, Table, Text, counted
from bot.core.scales import PRESETS, parse_scale, suggest_scale
from bot.core.schedule import parse_schedule
from bot.core.scope import Scope
from bot.core.service import KEEP, SHARE_WITH_ASKED, IntegrityCheck
from bot.core.summaries import (
    open_rounds_sentence,
    progress_line,
    summary_reply,
    trend_reply,
    trend_words,
)
from bot.core.survey import DEFAULT_DAYS as DEFAULT_SURVEY_DAYS

logger = logging.getLogger(__name__)

#: "customers C [why…]" after the rating: what the person thinks customers would answer.
_PREDICTION = re.compile(r"customers\s+(\d)(?:\s+(.*))?$", re.I | re.S)


@dataclass(frozen=True)
class Command:
    usage: str
    what: str
    who: str


COMMANDS: dict[str, Command] = {
    "help": Command("/integrity help", "what the bot does and these commands", "everyone"),
    "answer": Command(
        "/integrity answer [N RATING|- [customers C] [why...]]",
        "see your open questions; answer question N with a 1-5 rating (or - to keep it), "
        "what you think customers would answer (customers C, optional) and why",
        "everyone",
    ),
    "status": Command(
        "/integrity status", "the open round, response rates, and your open questions", "everyone"
    ),
    "propose": Command(
        "/integrity propose <question> | list | approve N [scale …|text] [confirm] | reject N",
        "anonymously propose a question for the other side; admins approve it into a later round",
        "everyone; list/approve/reject: admins",
    ),
    "follow-up": Command(
        "/integrity follow-up N",
        "add follow-up N of the last summary's “What to ask next” to the next round",
        "admins",
    ),
    "forget-me": Command(
        "/integrity forget-me [confirm]", "delete all your answers and your record", "everyone"
    ),
    "privacy": Command(
        "/integrity privacy",
        "what is kept about you, what executives can and cannot see, and how to be forgotten",
        "everyone",
    ),
    "summary": Command(
        "/integrity summary [last|round N|rounds N-M|weeks N|all] [team]",
        "themes and executive-vs-frontline contradictions, with verbatim answers",
        "executives",
    ),
    "trend": Command(
        "/integrity trend [QUESTION] [weeks N]",
        "the executive-frontline gap over the rounds, as a chart (default: the give-away question)",
        "executives",
    ),
    "ask": Command("/integrity ask", "start a new round now", "executives and admins"),
    "share": Command(
        "/integrity share [round N] [CHANNEL]",
        "post a closed round's summary (anonymity floor applied) to everyone who was asked, "
        "or to a channel: show people they were heard",
        "executives",
    ),
    "customers": Command(
        "/integrity customers link [QUESTION...] [expires N days] | note [TEXT|off]",
        "a signed, expiring link to the customer survey page (one answer per link); the "
        "“what we heard, what we are changing” note shown there",
        "executives and admins",
    ),
    "close": Command("/integrity close", "close the open round now", "executives and admins"),
    "export": Command(
        "/integrity export [last|round N|rounds N-M|weeks N|all] [team]",
        "the answers as CSV, anonymity floor applied, no identities",
        "executives",
    ),
    "schedule": Command(
        "/integrity schedule [DAY HH:MM [tz ZONE] [days N] [reminders N] [team NAME]|off]",
        "show or set the weekly check-in (each person's local time)",
        "admins",
    ),
    "role": Command(
        "/integrity role @person executive|frontline [admin|not-admin]",
        "set someone's role",
        "admins",
    ),
}

#: Called after a round opens, so the adapter can deliver it.
RoundStarted = Callable[[Round], str | None]


class Commands:
    """Parses `/integrity …` and calls the core."""

    def __init__(
        self,
        service: IntegrityCheck,
        on_round_started: RoundStarted | None = None,
        *,
        posts_summaries: bool = True,
    ):
        self.service = service
        self.on_round_started = on_round_started
        #: False where nothing posts owed summaries (the terminal chat): `share` shows the
        #: summary instead of owing it.
        self.posts_summaries = posts_summaries

    def handle(self, person: Person, text: str) -> Reply:
        """Run one command for this person; domain errors become a reply, never a crash."""
        words = text.strip().split(maxsplit=1)
        if words and words[0].lower() in {"/integrity", "integrity"}:
            words = words[1].split(maxsplit=1) if len(words) > 1 else []
        name = words[0].lower() if words else "help"
        rest = words[1] if len(words) > 1 else ""
        handler = getattr(self, "_" + name.replace("-", "_"), None)
        if name not in COMMANDS or handler is None:
            return Reply.text(
                f"I don't know the command {typed(name)}. Try `/integrity help` for the list."
            )
        try:
            return handler(person, rest)
        except IntegrityError as error:
            return Reply.text(str(error))

    def progress(self, person: Person, text: str) -> str | None:
        """For a command that takes a while (`summary`, `trend`), the line to show while it
        runs, e.g. "Analysing 76 answers from round 3…", from a count (no analysis). None
        for other commands, for someone who may not run it, or for an empty scope: the
        command's own reply then says what is wrong."""
        words = text.strip().split(maxsplit=1)
        name = words[0].lower() if words else ""
        rest = words[1] if len(words) > 1 else ""
        if name not in {"summary", "trend"} or not person.is_executive:
            return None
        try:
            spec = rest if name == "summary" else " ".join(trend_words(rest)[1])
            return progress_line(self.service, self.service.scope(person, spec))
        except IntegrityError:
            return None

    # -- everyone ---------------------------------------------------------------

    def _help(self, person: Person, rest: str) -> Reply:
        reply = Reply([Heading("Integrity Check")])
        reply.add(
            Text(
                "Every week the same questions go to executives and frontline staff: would our "
                "customers come back if we handed them to our best competitor? Do we serve them "
                "or process them? Leadership then sees where the two views agree and where they "
                "contradict each other, backed by your own words."
            )
        )
        reply.add(
            Note(
                "Your answers are anonymous: they are stored under a pseudonym, only with the "
                f"day, and nothing is shown for fewer than {self.service.settings.min_group} "
                "answers. `/integrity privacy` says what is kept and who sees what."
            )
        )
        rows = [[c.usage, c.what, c.who] for c in COMMANDS.values()]
        reply.add(Table(["command", "what it does", "who"], rows))
        reply.add(Text(f"You are {person.display_name}, {_role(person)}."))
        return reply

    def _privacy(self, person: Person, rest: str) -> Reply:
        return privacy_reply(self.service.settings.floor)

    def _status(self, person: Person, rest: str) -> Reply:
        service = self.service
        reply = Reply([Heading("Status")])
        current = service.open_round()
        rounds = service.rounds()
        if current is None:
            reply.add(Text("No round is open." + ("" if rounds else " None has been run yet.")))
        else:
            reply.add(
                Text(
                    f"Round {current.number} is open until {_when(current.closes_at)}, "
                    f"with {len(current.question_ids)} questions."
                )
            )
            rates = service.response_rate(current)
            reply.add(
                Table(
                    ["who", "asked", "answered", "rate"],
                    [
                        [label, str(c.asked), c.count, c.percent]
                        for label, c in (
                            ("executives", rates["executive"]),
                            ("frontline", rates["frontline"]),
                            ("everyone", rates["all"]),
                        )
                    ],
                    caption="Response rate",
                )
            )
            mine = service.questions_for(person, current)
            done = service.my_answers(person, current)
            left = [q for q in mine if q.id not in done]
            reply.add(
                Text(
                    f"You have answered {len(mine) - len(left)} of your {len(mine)} questions."
                    + (" See them with `/integrity answer`." if left else "")
                )
            )
        if rounds:
            reply.add(rounds_table(service, rounds))
        schedules = service.schedules(person.platform, person.workspace)
        if schedules:
            described = "; ".join(s.describe() for s in schedules)
            reply.add(Note(f"Weekly check-in: {described}."))
        if person.is_admin:
            pending = service.pending_proposals()
            if pending:
                waits = "waits" if len(pending) == 1 else "wait"
                reply.add(
                    Note(
                        f"{counted(len(pending), 'proposed question')} {waits}: "
                        "`/integrity propose list`."
                    )
                )
        return reply

    def _answer(self, person: Person, rest: str) -> Reply:
        service = self.service
        current = service.open_round()
        if current is None:
            return Reply.text("No round is open right now. The next check-in will ask you.")
        questions = service.questions_for(person, current)
        words = rest.split(maxsplit=2)
        if not words:
            return self.questions_reply(person, current)
        usage = f"Usage: `{COMMANDS['answer'].usage}`, e.g. `/integrity answer 1 4 because…`"
        if len(words) < 2:
            raise UsageError(usage)
        ref, rating_word = words[0], words[1]
        by_number = {str(i): q for i, q in enumerate(questions, start=1)}
        by_id = {q.id: q for q in questions}
        question = by_number.get(ref) or by_id.get(ref)
        if question is None:
            raise UsageError(
                f"There is no question {typed(ref)} for you in round {current.number}: "
                f"use a number from 1 to {len(questions)}. {usage}"
            )
        if rating_word == "-":
            rating = KEEP
        elif rating_word in ("1", "2", "3", "4", "5"):
            rating = int(rating_word)
        else:
            raise UsageError(
                f"{typed(rating_word)} is not a rating: use a whole number from 1 to 5, or - to "
                f"keep your rating and only add why. Nothing was stored. {usage}"
            )
        text = words[2] if len(words) > 2 else KEEP
        prediction = KEEP
        said = _PREDICTION.match(text) if isinstance(text, str) else None
        if said:
            prediction, text = int(said.group(1)), said.group(2) or KEEP
            if not 1 <= prediction <= 5:
                raise UsageError(
                    f"{prediction} is not what customers could answer: use a whole number "
                    f"from 1 to 5 after `customers`. Nothing was stored. {usage}"
                )
        if rating is KEEP and text is KEEP and prediction is KEEP:
            raise UsageError(usage)
        answer = service.record_answer(
            person, question.id, rating=rating, text=text, round_=current, source="chat",
            customer_prediction=prediction,
        )  # fmt: skip
        shown = f"{answer.rating}/5" if answer.rating is not None else "no rating"
        why = "with your why" if answer.text else "no why yet"
        guess = (
            f", you think customers would say {answer.customer_prediction}/5"
            if answer.customer_prediction is not None
            else ""
        )
        reply = Reply.text(
            f"Thanks — {shown}{guess}, {why}, recorded for “{question.text}” "
            f"You can change it until {_when(current.closes_at)}."
        )
        left = [q for q in questions if q.id not in service.my_answers(person, current)]
        if answer.customer_prediction is None and question.customer is not None:
            reply.add(
                Note(
                    "What would our customers answer? Customers are asked: "
                    f"“{question.customer.text}” Add your guess (1-5): "
                    f"`/integrity answer {ref} - customers N`"
                )
            )
        if not answer.text:
            reply.add(Note(f"{question.why_prompt} Add it: `/integrity answer {ref} - <why>`"))
        elif left:
            them = "it" if len(left) == 1 else "them"
            reply.add(
                Note(f"{counted(len(left), 'question')} left: `/integrity answer` shows {them}.")
            )
        else:
            reply.add(Note("That was your last question this round. Thank you!"))
        return reply

    def questions_reply(self, person: Person, current: Round) -> Reply:
        """The person's questions in this round, with what they answered so far."""
        questions = self.service.questions_for(person, current)
        done = self.service.my_answers(person, current)
        reply = Reply([Heading(f"Round {current.number}: your questions")])
        rows = []
        for i, q in enumerate(questions, start=1):
            mine = done.get(q.id)
            answered = "-"
            if mine:
                answered = f"{mine.rating}/5" if mine.rating is not None else "text only"
                if mine.customer_prediction is not None:
                    answered += f" (customers: {mine.customer_prediction})"
            scale = (
                f"in words: `/integrity answer {i} - …`"
                if q.text_only
                else f"1 = {q.low_label} … 5 = {q.high_label}"
            )
            rows.append([str(i), q.text, scale, answered])
        reply.add(Table(["#", "question", "scale", "you said"], rows))
        reply.add(
            Note(
                "Answer with `/integrity answer N RATING why…`, e.g. "
                "`/integrity answer 1 2 they would miss nothing about us`; add what you think "
                "customers would answer with `customers C` after the rating, e.g. "
                "`/integrity answer 1 2 customers 4 we think they are happy, they are not`. "
                f"You can change answers until {_when(current.closes_at)}."
            )
        )
        return reply

    def _propose(self, person: Person, rest: str) -> Reply:
        service = self.service
        words = rest.split()
        if words[:1] == ["list"]:
            pending = service.proposals(person)
            if not pending:
                return Reply.text("No proposed questions are waiting.")
            rows = [
                [
                    str(p.id),
                    p.text,
                    f"{p.from_role} → {p.for_role}",
                    PRESETS[suggest_scale(p.text)].describe(),
                ]
                for p in pending
            ]
            return Reply(
                [
                    Table(
                        ["#", "question", "from → for", "suggested scale"],
                        rows,
                        caption="Proposed questions",
                    ),
                    Note(
                        "`/integrity propose approve N` previews it with its scale; "
                        "`/integrity propose reject N` drops it."
                    ),
                ]
            )
        if words[:1] == ["reject"]:
            if len(words) != 2 or not (words[1].isascii() and words[1].isdigit()):
                raise UsageError(
                    "Usage: `/integrity propose reject N`, N from `/integrity propose list`."
                )
            decided = service.decide(person, _proposal_id(words[1]), approve=False)
            return Reply.text(f"Rejected proposal {decided.id}.")
        if words[:1] == ["approve"]:
            return self._approve(person, rest)
        proposal = service.propose(person, rest)
        return Reply.text(
            f"Thanks. Your question for the {_plural(proposal.for_role)} is waiting for an admin's "
            "approval. It is stored without your name."
        )

    def _approve(self, person: Person, rest: str) -> Reply:
        """`approve N [scale …|text]`: a preview of the question as it will be asked, and
        the line that approves it; with `confirm` at the end, the approval."""
        usage = f"Usage: `{COMMANDS['propose'].usage}`, N from `/integrity propose list`."
        try:
            words = shlex.split(rest)
        except ValueError:
            raise UsageError(f"A quote is left open. {usage}") from None
        if len(words) < 2 or not (words[1].isascii() and words[1].isdigit()):
            raise UsageError(usage)
        confirmed = words[-1].lower() == "confirm"
        options = words[2:-1] if confirmed else words[2:]
        proposal = self.service.proposal(person, _proposal_id(words[1]))
        if proposal.status != "pending":
            raise UsageError(f"Proposal {proposal.id} was already {proposal.status}.")
        scale, written = parse_scale(options, proposal.text)
        if confirmed:
            decided = self.service.decide(person, proposal.id, approve=True, scale=scale)
            return Reply.text(
                f"Approved: “{decided.text}” goes to the {_plural(decided.for_role)} in the "
                f"next round, {scale.describe()}."
            )
        others = "; ".join(f"`scale {n}` ({s.describe()})" for n, s in PRESETS.items())
        return Reply(
            [
                Heading(f"Preview: proposal {proposal.id}"),
                Table(
                    ["question", "asked of", "scale"],
                    [[proposal.text, _plural(proposal.for_role), scale.describe()]],
                ),
                Text(
                    "Approve it as shown: "
                    f"`/integrity propose approve {proposal.id} {written} confirm`"
                ),
                Note(
                    f"Other scales: {others}; your own two ends, e.g. "
                    f'`scale "Rarely" "Daily"`; or `text` for words only, without a rating.'
                ),
            ]
        )

    def _follow_up(self, person: Person, rest: str) -> Reply:
        usage = f"Usage: `{COMMANDS['follow-up'].usage}`, N from the summary's “What to ask next”."
        if not rest.strip().isdigit():
            raise UsageError(usage)
        question = self.service.add_follow_up(person, int(rest.strip()))
        return Reply(
            [
                Text(
                    f"Added to the next round, for executives and frontline: “{question.text}” "
                    f"(1 = {question.low_label} … 5 = {question.high_label}), then: "
                    f"{question.why_prompt}"
                ),
                Note("It goes out with the next round that starts (`/integrity ask`)."),
            ]
        )

    def _forget_me(self, person: Person, rest: str) -> Reply:
        if rest.strip().lower() != "confirm":
            return Reply(
                [
                    Text(
                        "This deletes every answer you gave, your pending proposals and your "
                        "record with the bot. It cannot be undone."
                    ),
                    Note("To go ahead, send `/integrity forget-me confirm`."),
                ]
            )
        removed = self.service.forget_me(person)
        return Reply.text(
            f"Done. Removed {counted(removed['answers'], 'answer')}, "
            f"{counted(removed['proposals'], 'pending proposal')}, "
            f"{counted(removed['deliveries'], 'check-in record')} and your profile. "
            "If you talk to the bot again you start afresh."
        )

    # -- executives -------------------------------------------------------------

    def _summary(self, person: Person, rest: str) -> Reply:
        self.service.require_executive(person, "read summaries")
        scope = self.service.scope(person, rest, usage=_scope_usage("summary"))
        return summary_reply(self.service, scope)

    def _trend(self, person: Person, rest: str) -> Reply:
        self.service.require_executive(person, "see trends")
        return trend_reply(self.service, rest, usage=f"Usage: `{COMMANDS['trend'].usage}`")

    def _export(self, person: Person, rest: str) -> Reply:
        service = self.service
        service.require_executive(person, "export answers")
        scope = service.scope(person, rest, usage=_scope_usage("export"))
        rows = service.export_rows(person, scope)
        hidden = export_hidden_note(service, scope, len(rows))
        still_open = [r for r in scope.rounds if r.is_open]
        opened = open_rounds_sentence(still_open) if still_open else None
        if not rows:
            said = " ".join(note for note in (hidden, opened) if note)
            return Reply.text(
                f"{said} No file was written." if said else f"No answers in {scope.label} yet."
            )
        content = service.export_csv(person, scope)
        name = "integrity-" + "-".join(re.findall(r"[a-z0-9]+", scope.label.lower()))[:80] + ".csv"
        reply = Reply(
            [
                Text(
                    f"{counted(len(rows), 'answer')} from {scope.label}, anonymity floor applied."
                ),
                File(name, content, "text/csv", title=f"Integrity check answers, {scope.label}"),
            ]
        )
        if hidden:
            reply.add(Note(hidden))
        if opened:
            reply.add(Note(opened))
        return reply

    def _ask(self, person: Person, rest: str) -> Reply:
        started = self.service.start_round(person)
        delivered = self.on_round_started(started) if self.on_round_started else None
        questions = [self.service.question(q).text for q in started.question_ids]
        reply = Reply(
            [
                Text(
                    f"Round {started.number} is open until {_when(started.closes_at)} with "
                    f"{len(questions)} questions:"
                ),
                Text("\n".join(f"• {q}" for q in questions)),
            ]
        )
        if delivered:
            reply.add(Note(delivered))
        return reply

    def _share(self, person: Person, rest: str) -> Reply:
        words = rest.split()
        number = None
        if words[:1] == ["round"]:
            if len(words) < 2 or not (words[1].isascii() and words[1].isdigit()):
                raise UsageError(f"Usage: `{COMMANDS['share'].usage}`")
            if len(words[1]) > 9:
                raise NotFound(
                    f"There is no round {typed(words[1], 20)[1:-1]}: `/integrity status`."
                )
            number, words = int(words[1]), words[2:]
        if len(words) > 1:
            raise UsageError(f"Usage: `{COMMANDS['share'].usage}`")
        channel = _channel(words[0]) if words else None
        round_, asked = self.service.share_round(
            person, number, channel or SHARE_WITH_ASKED, post=self.posts_summaries
        )
        if not self.posts_summaries:
            reply = Reply(
                [
                    Note(
                        f"The terminal chat has nobody to post to: this is round {round_.number}'s "
                        f"summary as the {len(asked)} people who were asked would see it."
                    )
                ]
            )
            return reply.extend(summary_reply(self.service, _round_scope(round_)))
        where = f"the channel {words[0]}" if channel else f"the {len(asked)} people who were asked"
        return Reply.text(
            f"Round {round_.number}'s summary goes to {where} within a minute, with the "
            "anonymity floor applied, as executives see it: people see that they were heard."
        )

    def _customers(self, person: Person, rest: str) -> Reply:
        usage = f"Usage: `{COMMANDS['customers'].usage}`"
        words = rest.split()
        if words[:1] == ["link"]:
            return self._customers_link(person, words[1:], usage)
        if words[:1] == ["note"]:
            return self._customers_note(person, rest.split(maxsplit=1)[1:], usage)
        raise UsageError(usage)

    def _customers_link(self, person: Person, words: list[str], usage: str) -> Reply:
        days = DEFAULT_SURVEY_DAYS
        if "expires" in words:
            at = words.index("expires")
            spec = words[at + 1 : at + 3]
            if not spec or not spec[0].isdigit() or spec[1:] not in ([], ["days"], ["day"]):
                raise UsageError(f"Say how long the link lasts as `expires 14 days`. {usage}")
            days = int(spec[0])
            words = words[:at] + words[at + 1 + len(spec) :]
        url, questions, expires = self.service.make_survey_link(person, words, days)
        return Reply(
            [
                Text("A customer survey link for:"),
                Text("\n".join(f"• {q.customer.text}" for q in questions if q.customer)),
                Text(url),
                Note(
                    f"It works until {_when(expires)} and takes one answer: send each customer "
                    "their own link (run this again for another). The page sets no cookie and "
                    "keeps no IP address, no browser details and no time finer than the day."
                ),
            ]
        )

    def _customers_note(self, person: Person, rest: list[str], usage: str) -> Reply:
        text = rest[0].strip() if rest else ""
        if not text:
            current = self.service.customer_note()
            if current is None:
                return Reply.text(
                    "No note is shown to customers. Write one with "
                    "`/integrity customers note We heard … and we are changing …`."
                )
            return Reply.text(f"Customers see (since {current[1]:%d %b %Y}): “{current[0]}”")
        if text.lower() == "off":
            self.service.set_customer_note(person, "")
            return Reply.text("The note is no longer shown on the survey page.")
        self.service.set_customer_note(person, text)
        return Reply.text(
            "Customers now see this on the survey page, under “What we heard, what we are "
            f"changing”: “{' '.join(text.split())}”"
        )

    def _close(self, person: Person, rest: str) -> Reply:
        closed = self.service.close_round(person)
        return Reply.text(
            f"Round {closed.number} is closed. `/integrity summary` shows what it found."
        )

    # -- admins -----------------------------------------------------------------

    def _schedule(self, person: Person, rest: str) -> Reply:

        mine = self.service.schedules(person.platform, person.workspace)
        words = rest.split()
        if not words:
            if not mine:
                return Reply.text(
                    "No weekly check-in is set. An admin sets one with "
                    "`/integrity schedule monday 10:00 tz Europe/London`."
                )
            return Reply(
                [Text("Weekly check-ins:"), Text("\n".join(f"• {s.describe()}" for s in mine))]
            )
        self.service.require_admin(person, "set the weekly check-in")
        if words[0].lower() == "off":
            if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "team"):
                raise UsageError("Usage: `/integrity schedule off [team NAME]`.")
            wanted = words[2] if len(words) == 3 else ""
            found = next((s for s in mine if s.team.lower() == wanted.lower()), None)
            if found is None:
                who = f"for team {typed(wanted)}" if wanted else "for everyone"
                now = "; ".join(s.describe() for s in mine) or "none"
                raise NotFound(f"There is no weekly check-in {who} to turn off. Set now: {now}.")
            self.service.stop_schedule(person, found.team)
            team = found.team
            return Reply.text("Weekly check-ins are off" + (f" for team {team}." if team else "."))
        base = next((s for s in mine if not s.team), None)
        schedule = parse_schedule(
            person.platform, person.workspace, words, base, teams=self.service.teams()
        )
        self.service.set_schedule(person, schedule)
        return Reply.text(f"Weekly check-in set for {schedule.describe()}.")

    def _role(self, person: Person, rest: str) -> Reply:
        self.service.require_admin(person, "set roles")
        words = rest.split()
        usage = f"Usage: `{COMMANDS['role'].usage}`"
        if len(words) not in (2, 3) or words[1].lower() not in ("executive", "frontline"):
            raise UsageError(usage)
        admin = None
        if len(words) == 3:
            if words[2].lower() not in ("admin", "not-admin"):
                raise UsageError(usage)
            admin = words[2].lower() == "admin"
        target = self.service.find_person(person, words[0])
        updated = self.service.set_role(person, target, words[1].lower(), admin=admin)
        return Reply.text(f"{updated.display_name} is now {_role(updated)}.")


#: How many of the latest rounds `/integrity status` lists.
STATUS_ROUNDS = 5


def rounds_table(service: IntegrityCheck, rounds: list[Round]) -> Table:
    """The latest rounds, newest first, with their state: what `round N` can name."""
    shown = rounds[-STATUS_ROUNDS:][::-1]
    rows = [
        [
            str(r.number),
            _when(r.opened_at)[:10],
            f"open until {_when(r.closes_at)}"
            if r.is_open
            else f"closed {_when(r.closed_at or r.closes_at)[:10]}",
            str(len(r.question_ids)),
        ]
        for r in shown
    ]
    older = len(rounds) - len(shown)
    caption = "Rounds" + (
        f" (the latest {len(shown)} of {len(rounds)}; `summary rounds 1-{rounds[-1].number}` "
        "covers them all)"
        if older
        else ""
    )
    return Table(["round", "opened", "state", "questions"], rows, caption=caption)


def export_hidden_note(service: IntegrityCheck, scope: Scope, exported: int) -> str | None:
    """Why answers were left out of an export of `scope`, or None when none were."""
    view = service.view(scope)
    hidden = len(view.withheld)
    if not hidden:
        return None
    floor = service.settings.min_group
    if not exported:
        each = "its question group" if hidden == 1 else f"each of its {hidden} question groups"
        return (
            f"Everything in {scope.label} was hidden: {each} "
            f"had {view.reason}, and nothing is shown for fewer than {floor} so no one can be "
            "recognised. Try a wider scope, e.g. `all`, or wait for more answers."
        )
    are = "is" if hidden == 1 else "are"
    return f"{counted(hidden, 'question group')} had {view.reason}, and {are} left out."


def _scope_usage(command: str) -> str:
    return f"`{COMMANDS[command].usage}`"


def _proposal_id(word: str) -> int:
    """A proposal number as typed; too many digits to be any proposal is NotFound."""
    if len(word) > 9:
        raise NotFound(f"There is no proposal {word}. `/integrity propose list` shows them.")
    return int(word)


def _role(person: Person) -> str:
    role = "an executive" if person.is_executive else "frontline"
    return role + (" and an admin" if person.is_admin else "")


def _channel(word: str) -> str:
    """A channel as a platform gives it: `<#C123|name>` (a Slack mention) is its id."""
    mention = re.fullmatch(r"<#([A-Z0-9]+)(?:\|[^>]*)?>", word)
    return mention.group(1) if mention else word.lstrip("#")


def _round_scope(round_: Round) -> Scope:
    return Scope(rounds=[round_], label=f"round {round_.number}")


def _when(moment: datetime) -> str:
    return moment.strftime("%a %d %b %H:%M UTC")


def _plural(role: str) -> str:
    return "executives" if role == "executive" else "frontline"
