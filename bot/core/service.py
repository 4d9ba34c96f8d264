"""The core service: rounds, questions, answers, anonymity and summaries.

`IntegrityCheck` is the one API every adapter (terminal, Slack, Teams) and the
scheduler call. It knows nothing of any chat platform: people arrive as
(platform, workspace, user id), replies leave as `bot.core.replies.Reply`.

Permissions live here, not in the adapters, so every platform enforces the same
rules: executives read summaries and exports and start rounds; admins set roles
and approve proposed questions; everyone answers, proposes and can be forgotten.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import random
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal, Protocol

from bot.analysis.models import Analysis, AnswerRecord, HiddenGroup, QuestionInfo
from bot.core import anonymity, survey
from bot.core.domain import (
    ROLES,
    Answer,
    CustomerAnswer,
    CustomerSaid,
    CustomerSource,
    Person,
    Proposal,
    Question,
    Role,
    Round,
)
from bot.core.errors import InvalidAnswer, NotAllowed, NotFound, UsageError, typed
from bot.core.questions import choose_round_questions, load_bank
from bot.core.replies import counted
from bot.core.scales import PRESETS, Scale, suggest_scale
from bot.core.schedule import WeeklySchedule
from bot.core.scope import Scope, parse_scope
from bot.core.settings import Settings
from bot.core.survey import DEFAULT_DAYS, MAX_DAYS
from bot.store import Store

logger = logging.getLogger(__name__)

MAX_ANSWER_CHARS = 3000
MAX_NOTE_CHARS = 600
MAX_SURVEY_QUESTIONS = 6
#: A summary post's destination meaning "everyone the round was sent to" (`share_round`).
SHARE_WITH_ASKED = "asked"
MAX_PROPOSAL_CHARS = 300


class _Keep:
    """Marker: leave this half of an answer as it is."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP = _Keep()

#: What a platform's settings make a person: an executive, or an admin (and executive).
Grant = Literal["executive", "admin"]
#: Sends one round's questions to one person; returns the platform's message id.
Sender = Callable[[Person, Round, list[Question]], str | None]
#: Runs the analysis engine (see bot.analysis.engine.analyse).
Analyser = Callable[..., Analysis]


class CustomerAnswerIn(Protocol):
    """A customer answer to store: an imported row or a survey page's form."""

    question_id: str
    rating: int | None
    comment: str
    answered_on: date
    segment: str | None


@dataclass
class DeliveryReport:
    sent: int = 0
    already: int = 0
    failed: list[str] = field(default_factory=list)


#: The analyses of the last few distinct sets of answers are kept in memory. The same
#: answers then give the same summary: `follow-up N` numbers the list the admin read (a
#: model may word it differently on a second run), and a second look runs nothing.
ANALYSES_KEPT = 8


def _fingerprint(
    records: list[AnswerRecord],
    infos: list[QuestionInfo],
    hidden: list[HiddenGroup],
    min_group: int,
) -> str:
    """What an analysis is of, as one digest: two equal digests, one summary."""
    digest = hashlib.sha256()
    for part in (
        [r.model_dump() for r in records],
        sorted((i.model_dump() for i in infos), key=lambda i: i["id"]),
        [h.model_dump() for h in hidden],
        min_group,
    ):
        digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()


class IntegrityCheck:
    """The platform-neutral core."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        analyser: Analyser | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        # Answers are sealed at rest with a key from the secret; a database written before
        # sealing gets its plain answers sealed here, once.
        self.store.use_seal_key(anonymity.seal_key(settings.secret))
        self._analyser = analyser
        self._analyses: OrderedDict[str, Analysis] = OrderedDict()
        self._analyses_lock = threading.Lock()
        self.now = clock or (lambda: datetime.now(UTC))
        if not store.read_only:  # an export reads the questions the bot last wrote
            self.store.sync_questions(load_bank(settings.questions_file))

    # -- people -----------------------------------------------------------------

    def meet(
        self,
        platform: str,
        workspace: str,
        user_id: str,
        display_name: str = "",
        *,
        team: str | None = None,
        tz: str | None = None,
        grant: Grant | None = None,
        rename: bool = True,
    ) -> tuple[Person, bool]:
        """The person behind an event, onboarded as frontline if unknown; True if new.

        `grant` is what the platform's settings make this person ("executive", or "admin",
        which is an executive too). The one rule for every platform: a grant only ever
        raises a role, at every meeting; taking a role away is an admin's act
        (`/integrity role`), and someone listed in the settings keeps what they grant.
        A known person whose facts and grant already hold costs one read and no write;
        `rename=False` keeps a known person's name (when the event only carries a handle).
        """
        known = self.store.person(platform, workspace, user_id)
        name = display_name or user_id
        if known is not None and (not rename or not display_name):
            name = known.display_name
        person = known
        changed = known is None or (
            known.display_name != name
            or (team is not None and team != known.team)
            or (tz is not None and tz != known.tz)
        )
        if changed:
            person = self.store.add_person(platform, workspace, user_id, name, team=team, tz=tz)
        assert person is not None
        if _grant_raises(person, grant):
            admin = grant == "admin" and not person.is_admin
            person = self.store.set_role(person.id, "executive", is_admin=True if admin else None)
        return person, known is None

    def person(self, platform: str, workspace: str, user_id: str) -> Person | None:
        """A known person, or None: never creates one."""
        return self.store.person(platform, workspace, user_id)

    def people(self, platform: str, workspace: str) -> list[Person]:
        """Everyone the bot knows in a workspace."""
        return self.store.people(platform, workspace)

    def find_person(self, requester: Person, ref: str) -> Person:
        """A person in the requester's workspace by mention, user id or display name."""
        ref = ref.strip()
        mention = re.fullmatch(r"<@([A-Za-z0-9._-]+)(?:\|[^>]*)?>", ref)
        key = mention.group(1) if mention else ref.lstrip("@")
        people = self.store.people(requester.platform, requester.workspace)
        for person in people:
            if person.user_id == key:
                return person
        named = [p for p in people if p.display_name.lower() == key.lower()]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise UsageError(f"More than one person is called {key!r}: use their user id.")
        raise NotFound(
            f"I don't know {typed(ref)} in this workspace yet. They are added when they first "
            "talk to the bot or receive a check-in."
        )

    def set_role(
        self, requester: Person, target: Person, role: Role, *, admin: bool | None = None
    ) -> Person:
        """Make `target` an executive or frontline (admins only)."""
        if not requester.is_admin:
            raise NotAllowed("Only admins can set roles. Ask an admin of Integrity Check.")
        if target.id == requester.id and admin is False:
            raise UsageError("You can't remove your own admin rights; ask another admin.")
        return self.store.set_role(target.id, role, is_admin=admin)

    # -- rounds -----------------------------------------------------------------

    def open_round(self) -> Round | None:
        """The round being answered now, if any."""
        rounds = self.store.rounds(status="open")
        return rounds[-1] if rounds else None

    def start_round(
        self,
        requester: Person | None = None,
        *,
        week: str | None = None,
        closes_at: datetime | None = None,
    ) -> Round:
        """Open the next round (executives and admins, or the scheduler with no requester)."""
        if requester is not None and not (requester.is_executive or requester.is_admin):
            raise NotAllowed("Only executives and admins can start a round.")
        current = self.open_round()
        if current is not None:
            raise UsageError(
                f"Round {current.number} is still open until {_day(current.closes_at)}. "
                "Close it first with `/integrity close`, or let it close on its own."
            )
        bank = self.store.questions(source="bank")
        asked_ids = {qid for r in self.store.rounds() for qid in r.question_ids}
        # Approved proposals and follow-ups not asked yet go first, two at most so the bank
        # still rotates.
        waiting = [
            q
            for source in ("follow-up", "proposal")
            for q in self.store.questions(source=source)
            if q.id not in asked_ids
        ][:2]
        previous = [r.question_ids for r in self.store.rounds()]
        chosen = choose_round_questions(bank, waiting, previous, self.settings.questions_per_round)
        opened = self.now()
        closes = closes_at or opened + timedelta(days=self.settings.round_days)
        # Survey answers given since the last round closed count toward this one.
        return self.store.create_round(chosen, opened, closes, week=week)

    def close_round(
        self,
        requester: Person | None = None,
        round_: Round | None = None,
        *,
        summaries: Sequence[tuple[str, str, str]] = (),
    ) -> Round:
        """Close the open round now; its answers can no longer change. Each (platform,
        workspace, destination) in `summaries` is owed the round's summary, recorded with
        the close (the scheduler posts it)."""
        if requester is not None and not (requester.is_executive or requester.is_admin):
            raise NotAllowed("Only executives and admins can close a round.")
        round_ = round_ or self.open_round()
        if round_ is None or not round_.is_open:
            raise UsageError("No round is open. Start one with `/integrity ask`.")
        return self.store.close_round(round_.id, self.now(), summaries=summaries)

    def close_due_rounds(self, *, summaries: Sequence[tuple[str, str, str]] = ()) -> list[Round]:
        """Close every open round whose closing time has passed (scheduler, and on start),
        each owing its summary to `summaries` as in `close_round`."""
        now = self.now()
        return [
            self.store.close_round(r.id, now, summaries=summaries)
            for r in self.store.rounds(status="open")
            if r.closes_at <= now
        ]

    def round(self, round_id: int) -> Round:
        """A round as it is now (it may have closed since a message showed it)."""
        return self.store.round(round_id)

    def rounds(self) -> list[Round]:
        return self.store.rounds()

    def question(self, question_id: str) -> Question:
        return self.store.question(question_id)

    def questions(self, *, active_only: bool = True) -> list[Question]:
        return self.store.questions(active_only=active_only)

    def round_questions(self, round_: Round) -> list[Question]:
        return [self.store.question(qid) for qid in round_.question_ids]

    def questions_for(self, person: Person, round_: Round) -> list[Question]:
        """The questions of this round that go to this person's role."""
        return [q for q in self.round_questions(round_) if q.asked_of(person.role)]

    def deliver(self, round_: Round, people: Sequence[Person], send: Sender) -> DeliveryReport:
        """Send the round to each person once: claim, send, then record the message id.

        A person whose delivery is already claimed is skipped, so a second call (a
        retry, another process) never sends twice; a failed send is marked and
        retried by the next call.
        """
        report = DeliveryReport()
        for person in people:
            delivery_id = self.store.claim_delivery(round_.id, person)
            if delivery_id is None:
                previous = self.store.delivery_for(round_.id, person.id)
                if previous is None or previous["status"] != "failed":
                    report.already += 1
                    continue
                delivery_id = previous["id"]
            questions = self.questions_for(person, round_)
            try:
                message_ref = send(person, round_, questions)
            except Exception:
                logger.exception(
                    "Could not deliver round %s to person %s", round_.number, person.id
                )
                self.store.fail_delivery(delivery_id)
                report.failed.append(person.display_name)
                continue
            self.store.complete_delivery(delivery_id, message_ref)
            report.sent += 1
        return report

    # -- answers ----------------------------------------------------------------

    def record_answer(
        self,
        person: Person,
        question_id: str,
        *,
        rating: int | None | _Keep = KEEP,
        text: str | None | _Keep = KEEP,
        round_: Round | None = None,
        on_record: bool = False,
        source: str = "chat",
        question: Question | None = None,
        customer_prediction: int | _Keep = KEEP,
    ) -> Answer:
        """Store or edit the person's answer; until the round closes the latest one counts.
        `customer_prediction` is their optional second rating: what they think customers
        would answer to the question's customer version, on the same 1-5 scale.

        The round is read again (it may have closed since the message showed it), unless
        the caller has just read it with the `question` (`record_answer_from` does)."""
        (answer,) = self.record_answers(
            person,
            round_,
            {question_id: (rating, text)},
            on_record=on_record,
            source=source,
            questions={question_id: question} if question is not None else None,
            predictions={} if customer_prediction is KEEP else {question_id: customer_prediction},
        )
        return answer

    def record_answers(
        self,
        person: Person,
        round_: Round | None,
        answers: Mapping[str, tuple[int | None | _Keep, str | None | _Keep]],
        *,
        on_record: bool = False,
        source: str = "chat",
        questions: Mapping[str, Question] | None = None,
        predictions: Mapping[str, int] | None = None,
    ) -> list[Answer]:
        """Store or edit several of the person's answers to one round (a form's questions,
        question id -> (rating, text), either may be `KEEP`): all are checked first, then
        written in one transaction, so a form is saved whole or not at all. `predictions`
        (question id -> 1-5) are what the person thinks customers would answer.

        Only the answers are written: nothing that names the person (see `bot.store.store`).
        The round is read again (it may have closed since the message showed it), unless
        the caller has just read it with its `questions`.
        """
        round_ = round_ or self.open_round()
        if round_ is None:
            raise InvalidAnswer("No round is open right now, so there is nothing to answer.")
        if not answers:
            raise InvalidAnswer("There is no answer to save: rate or answer a question first.")
        if questions is None:
            round_ = self.store.round(round_.id)
        if not round_.is_open:
            raise InvalidAnswer(
                f"Round {round_.number} closed on {_day(round_.closed_at or round_.closes_at)}; "
                "answers can no longer be changed. The next round will ask again."
            )
        known = questions or {}
        checked = [
            (qid, *self._checked(person, round_, qid, known.get(qid), rating, text))
            for qid, (rating, text) in answers.items()
        ]
        for qid, prediction in (predictions or {}).items():
            if qid not in answers:
                raise InvalidAnswer(f"A guess of what customers would say needs {qid!r} too.")
            if not _is_rating(prediction):
                raise InvalidAnswer(
                    "What customers would answer is a whole number from 1 to 5, not "
                    f"{prediction!r}."
                )
        return self.store.upsert_answers(
            round_id=round_.id,
            pseudonym=anonymity.pseudonym(self.settings.secret, person, round_.id),
            role=person.role,
            team=person.team,
            day=self.now().date(),
            answers=checked,
            on_record=on_record,
            source=source,
            keep=KEEP,
            predictions=predictions,
        )

    def _checked(
        self,
        person: Person,
        round_: Round,
        question_id: str,
        question: Question | None,
        rating: int | None | _Keep,
        text: str | None | _Keep,
    ) -> tuple[int | None | _Keep, str | None | _Keep]:
        """One answer's rating and text as stored, or InvalidAnswer saying what to fix."""
        if question_id not in round_.question_ids:
            raise InvalidAnswer(f"Question {question_id!r} is not part of round {round_.number}.")
        question = question or self.store.question(question_id)
        if not question.asked_of(person.role):
            raise InvalidAnswer(f"That question is for {' and '.join(question.roles)} only.")
        if rating is not KEEP and rating is not None and not _is_rating(rating):
            raise InvalidAnswer(f"A rating is a whole number from 1 to 5, not {rating!r}.")
        if question.text_only and rating is not KEEP and rating is not None:
            raise InvalidAnswer(
                f"“{question.text}” is answered in words only, without a rating: send your "
                "answer as `- your words` (for example `/integrity answer N - …`)."
            )
        if isinstance(text, str):
            text = text.strip()
            if len(text) > MAX_ANSWER_CHARS:
                raise InvalidAnswer(
                    f"That answer is {len(text):,} characters; the limit is "
                    f"{MAX_ANSWER_CHARS:,}. Please shorten it and send it again."
                )
        return rating, text

    def record_answer_from(
        self,
        platform: str,
        workspace: str,
        user_id: str,
        question_id: str,
        *,
        round_id: int,
        display_name: str = "",
        grant: Grant | None = None,
        rating: int | None | _Keep = KEEP,
        text: str | None | _Keep = KEEP,
        source: str = "chat",
    ) -> tuple[Person, Round, Answer]:
        """`record_answer` for a person named by their platform ids (a click on a check-in),
        in one read (the person, the round and the question together) and one write (the
        answer), since a platform waits for it before it acknowledges. Meeting someone for
        the first time, or a grant that raises their role, costs what `meet` costs on top."""
        person, round_, question = self.store.answer_context(
            platform, workspace, user_id, round_id, question_id
        )
        if round_ is None:
            raise NotFound(f"There is no round with id {round_id}.")
        if person is None or _grant_raises(person, grant):
            person, _ = self.meet(
                platform, workspace, user_id, display_name, grant=grant, rename=False
            )
        # An unknown question is read again, and `record_answer` says what is wrong with it.
        answer = self.record_answer(
            person, question_id, rating=rating, text=text, round_=round_, source=source,
            question=question,
        )  # fmt: skip
        return person, round_, answer

    def my_answers(self, person: Person, round_: Round) -> dict[str, Answer]:
        """The person's own answers in a round, found again through their pseudonym."""
        pseudonym = anonymity.pseudonym(self.settings.secret, person, round_.id)
        found = {}
        for qid in round_.question_ids:
            answer = self.store.answer_by_pseudonym(round_.id, qid, pseudonym)
            if answer is not None:
                found[qid] = answer
        return found

    # -- response rate ----------------------------------------------------------

    def response_counts(self, round_: Round) -> dict[str, dict[str, int]]:
        """Asked and answered per role, exact: what `response_rate` starts from. No surface
        shows these as they are (see `response_rate`).

        Who answered is not stored (see `bot.store.store`): it is worked out here, with the
        key, by recomputing each asked person's pseudonym for the round. Someone who answered
        without a check-in (a channel thread, the terminal) counts as asked and answered.
        """
        counts = {r: {"asked": 0, "answered": 0, "unasked": 0} for r in ROLES}
        unmatched = self.store.answer_pseudonyms(round_.id)
        for person, role in self.store.asked(round_.id):
            counts[role]["asked"] += 1
            if unmatched.pop(anonymity.pseudonym(self.settings.secret, person, round_.id), None):
                counts[role]["answered"] += 1
        for role in unmatched.values():  # "unasked": of them, those who had no check-in
            counts[role]["asked"] += 1
            counts[role]["answered"] += 1
            counts[role]["unasked"] += 1
        return counts

    def response_rate(self, round_: Round) -> dict[str, anonymity.Response]:
        """Asked and answered, per role and in total, the floor applied to the counts.

        Only per role, never per team or question. A role's answered count is shown once
        it reaches the floor (or while it is 0): below, "fewer than 5", because an exact
        small count read before and after times each answer and, in a small role, names
        who has taken part. While it is hidden, the role's asked count is the check-ins
        sent: someone answering without one (a channel thread, the terminal) would add
        one to it, the answer the hidden count keeps out of sight. The total is exact only
        when the counts hidden in it are none or at least the floor, or it would give them
        away by subtraction.
        """
        counts = self.response_counts(round_)
        floor = self.settings.floor
        rates = {}
        for role, c in counts.items():
            hide = floor.hides(c["answered"])
            asked = c["asked"] - c["unasked"] if hide else c["asked"]
            rates[role] = anonymity.Response(asked, None if hide else c["answered"], floor)
        hidden = sum(c["answered"] for role, c in counts.items() if rates[role].answered is None)
        total = sum(c["answered"] for c in counts.values())
        rates["all"] = anonymity.Response(
            sum(rates[role].asked for role in counts),
            None if floor.hides(hidden) or floor.hides(total) else total,
            floor,
            under_floor=floor.hides(total),
        )
        return rates

    # -- summaries and exports --------------------------------------------------

    def scope(self, requester: Person | None, spec: str = "", *, usage: str = "") -> Scope:
        """The scope `spec` names (see `bot.core.scope.parse_scope`); errors quote `usage`,
        the asking command's own usage line."""
        return parse_scope(
            spec.split(),
            self.store.rounds(),
            self.store.teams(),
            self.now(),
            **({"usage": usage} if usage else {}),
        )

    def view(self, scope: Scope) -> View:
        """What a summary, export or trend of `scope` may show: the one door for all of them.

        Only closed rounds: an open round's answers could be read before and after one
        more answer, so it shows its response rate and nothing else until it closes. Then
        the floor: a group (round × question × role) under it is left out, and a team's
        part of a group only shows when the rest of the group is empty or at least the
        floor too (`Floor.release`); a group that shows nothing is listed as withheld,
        whether it had no answer or a few, so the two cannot be told apart.
        """
        closed = [r for r in scope.rounds if not r.is_open]
        answers = self.store.answers([r.id for r in closed])  # every team: see Floor.release
        released, labelled = self.settings.floor.release(answers, scope.team)
        shown = {(a.round_id, a.question_id, a.role) for a in released}
        withheld = [
            (round_, question.id, role)
            for round_ in closed
            for question in self.round_questions(round_)
            for role in question.roles
            if (round_.id, question.id, role) not in shown
        ]
        return View(
            scope=scope,
            answers=released,
            withheld=withheld,
            labelled=labelled,
            still_open=[r for r in scope.rounds if r.is_open],
            floor=self.settings.floor,
        )

    def answer_count(self, scope: Scope) -> int:
        """How many answers the view of a scope shows (a count, no analysis): the figure a
        progress line gives while the analysis runs. Counted after the floor and without
        open rounds, like everything else, or it would tell one team's or one more
        answer's count by difference."""
        return len(self.view(scope).answers)

    def analysis(self, scope: Scope) -> tuple[Analysis, View]:
        """Run the analysis engine on what the view of a scope may show.

        A question × role side that shows nothing in any round of the scope is passed to
        the engine as hidden, so the summary says the floor hid it (never "no answers").
        """
        view = self.view(scope)
        customers, hidden_customers = self.customer_answers_in_scope(scope)
        numbers = {r.id: r.number for r in scope.rounds}
        questions = {qid: self.store.question(qid) for r in scope.rounds for qid in r.question_ids}
        for a in customers:  # customers may answer a question their round did not ask staff
            if a.question_id not in questions:
                questions[a.question_id] = self.store.question(a.question_id)
        records = [
            AnswerRecord(
                id=str(a.id),
                question_id=a.question_id,
                question=questions[a.question_id].text,
                role=a.role,
                rating=a.rating,
                text=a.text,
                round=str(numbers[a.round_id]),
                customer_prediction=a.customer_prediction,
            )
            for a in view.answers
        ] + [
            AnswerRecord(
                id=f"c{a.id}",
                question_id=a.question_id,
                question=questions[a.question_id].text,
                role="customer",
                rating=a.rating,
                text=a.comment,
                round=str(numbers[a.round_id]) if a.round_id in numbers else None,
            )
            for a in customers
        ]
        infos = [QuestionInfo.of(q) for q in questions.values()]
        hidden = [
            HiddenGroup(question_id=qid, role=role, reason=view.reason)
            for qid, role in view.hidden_sides()
        ]
        held_back = [  # the engine never sees them: the core says it held them back
            HiddenGroup(question_id=qid, role="customer", reason=self.settings.floor.sentence)
            for qid in hidden_customers
        ]
        analyser = self.analyser
        digest = _fingerprint(records, infos, hidden + held_back, self.settings.min_group)
        key = f"{id(analyser)}:{digest}"
        with self._analyses_lock:
            kept = self._analyses.get(key)
            if kept is not None:
                self._analyses.move_to_end(key)
        if kept is None:
            kept = analyser(
                records, min_group=self.settings.min_group, questions=infos, withheld=hidden
            )
            kept.hidden += held_back
            with self._analyses_lock:
                self._analyses[key] = kept
                while len(self._analyses) > ANALYSES_KEPT:
                    self._analyses.popitem(last=False)
        return kept.model_copy(deep=True), view

    @property
    def analyser(self) -> Analyser:
        if self._analyser is None:
            from bot.analysis.engine import analyse  # heavy imports: load on first summary

            self._analyser = analyse
        return self._analyser

    def require_executive(self, person: Person, what: str) -> None:
        if not person.is_executive:
            raise NotAllowed(
                f"Only executives can {what}. If you should be one, ask an admin to run "
                "`/integrity role @you executive`."
            )

    def export_rows(self, requester: Person | None, scope: Scope) -> list[dict]:
        """Answers as rows for CSV/JSONL (executives only; `None` is the operator at the
        console, who holds the database anyway): what `view` may show, no identities.

        Nothing in a row or in the order of rows follows when or in what order answers
        came in: no answer id, no day (the round is the finest time), and the rows of each
        group in a fresh random order at every export. The team column is filled for
        every row of a group or for none (`Floor.release`). Customers' answers come last,
        with the role `customer`.
        """
        if requester is not None:
            self.require_executive(requester, "export answers")
        view = self.view(scope)
        numbers = {r.id: r.number for r in scope.rounds}
        questions = {qid: self.store.question(qid) for r in scope.rounds for qid in r.question_ids}
        order = {(r.id, qid): i for r in scope.rounds for i, qid in enumerate(r.question_ids)}
        answers = list(view.answers)
        _shuffle.shuffle(answers)
        answers.sort(
            key=lambda a: (numbers[a.round_id], order[(a.round_id, a.question_id)], a.role)
        )
        return [
            {
                "round": numbers[a.round_id],
                "question_id": a.question_id,
                "question": questions[a.question_id].text,
                "role": a.role,
                "team": (a.team or "")
                if (a.round_id, a.question_id, a.role) in view.labelled
                else "",
                "rating": a.rating if a.rating is not None else "",
                "text": a.text,
                "on_record": int(a.on_record),
                "customer_prediction": a.customer_prediction or "",
            }
            for a in answers
        ] + self._customer_export_rows(
            scope, numbers, {qid: q.text for qid, q in questions.items()}
        )

    def _customer_export_rows(
        self, scope: Scope, numbers: dict[int, int], texts: dict[str, str]
    ) -> list[dict]:
        """Customers' answers as export rows (role `customer`, floor applied): no segment,
        which is a finer split than the floor's groups, and no identity, which is not kept."""
        customers, _ = self.customer_answers_in_scope(scope)
        for a in customers:
            if a.question_id not in texts:
                texts[a.question_id] = self.store.question(a.question_id).text
        customers = list(customers)
        _shuffle.shuffle(customers)  # no import order, as for staff
        customers.sort(key=lambda a: (numbers.get(a.round_id, 0), a.question_id))
        return [
            {
                "round": numbers.get(a.round_id, "") if a.round_id else "",
                "question_id": a.question_id,
                "question": texts[a.question_id],
                "role": "customer",
                "team": "",
                "rating": a.rating if a.rating is not None else "",
                "text": a.comment,
                "on_record": 0,
                "customer_prediction": "",
            }
            for a in customers
        ]

    def export_csv(self, requester: Person | None, scope: Scope) -> bytes:
        rows = self.export_rows(requester, scope)
        buffer = io.StringIO()
        columns = [
            "round", "question_id", "question", "role", "team", "rating", "text", "on_record",
            "customer_prediction",
        ]  # fmt: skip
        writer = csv.DictWriter(buffer, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue().encode("utf-8")

    def export_jsonl(self, requester: Person | None, scope: Scope) -> bytes:
        """One JSON object a line, in the shape `run_bot.py analyse` reads back."""
        lines = []
        for row in self.export_rows(requester, scope):
            row = {**row, "rating": row["rating"] if row["rating"] != "" else None}
            row["customer_prediction"] = row["customer_prediction"] or None
            row["team"] = row["team"] or None
            lines.append(json.dumps(row, ensure_ascii=False))
        return ("\n".join(lines) + "\n" if lines else "").encode("utf-8")

    # -- customer answers ----------------------------------------------------------

    def round_on(self, day: date) -> Round | None:
        """The round a customer answer given on `day` belongs to: the latest round opened
        on or before that day (rounds follow each other, so the weeks between two rounds
        count towards the earlier one); None before the first round."""
        return _round_on(self.store.rounds(), day)

    def add_customer_answers(
        self,
        answers: Sequence[CustomerAnswerIn],
        source: CustomerSource,
        *,
        used_link: str | None = None,
    ) -> int:
        """Store customer answers, all in one transaction (with the survey link's `used_link`
        hash, so a link is answered once). They carry no identity: see `bot.core.customers`.

        An imported answer goes to the round of its day. One from the survey page goes to
        the round open now, or, between rounds, waits for the next to open (`start_round`):
        never to a closed round, whose customers an executive may already have seen, so
        one more answer there would be the difference between two views, and whoever was
        sent the last link would be known by it."""
        rounds = self.store.rounds()
        live = self.open_round() if source == "survey" else None
        rows = []
        for answer in answers:
            round_ = live if source == "survey" else _round_on(rounds, answer.answered_on)
            rows.append(
                {
                    "question_id": answer.question_id,
                    "rating": answer.rating,
                    "comment": answer.comment,
                    "answered_on": answer.answered_on,
                    "segment": answer.segment,
                    "source": source,
                    "round_id": round_.id if round_ else None,
                }
            )
        return self.store.add_customer_answers(rows, used_link=used_link)

    # -- report back ------------------------------------------------------------------

    def share_round(
        self,
        requester: Person,
        number: int | None = None,
        destination: str = SHARE_WITH_ASKED,
        *,
        post: bool = True,
    ) -> tuple[Round, list[Person]]:
        """Share a closed round's summary (the anonymity floor applied, as executives read
        it) with everyone who was asked (`SHARE_WITH_ASKED`) or with a channel: owed like a
        closing summary, so the scheduler posts it and retries it (executives only).
        Returns the round and who was asked in the requester's workspace; `post=False`
        checks and owes nothing (the terminal chat, which has nobody to post to)."""
        self.require_executive(requester, "share a round's summary")
        if number is None:
            closed = self.store.rounds(status="closed")
            if not closed:
                raise UsageError("No round has closed yet: share one once it has closed.")
            round_ = closed[-1]
        else:
            round_ = self.store.round_by_number(number)
        if round_.is_open:
            raise UsageError(
                f"Round {round_.number} is still open until {_day(round_.closes_at)}: share its "
                "summary once it has closed (`/integrity close` closes it now)."
            )
        asked = self.asked_in(round_, requester.platform, requester.workspace)
        if post and not self.store.owe_summary_post(
            round_.id, requester.platform, requester.workspace, destination
        ):
            where = "everyone who was asked" if destination == SHARE_WITH_ASKED else destination
            raise UsageError(f"Round {round_.number}'s summary is already shared with {where}.")
        return round_, asked

    def asked_in(self, round_: Round, platform: str, workspace: str) -> list[Person]:
        """Everyone a round was sent to in one workspace of a platform."""
        return [
            person
            for person, _role in self.store.asked(round_.id)
            if (person.platform, person.workspace) == (platform, workspace)
        ]

    # -- the customer survey page -------------------------------------------------------

    def make_survey_link(
        self, requester: Person, question_refs: Sequence[str] = (), days: int = DEFAULT_DAYS
    ) -> tuple[str, list[Question], datetime]:
        """A signed link to the survey page for these questions (default: the customer
        versions of the open or latest round's questions), valid for `days` (executives and
        admins). Returns the URL, the questions and when it expires."""
        if not (requester.is_executive or requester.is_admin):
            raise NotAllowed(
                "Only executives and admins can make customer survey links. If you should be "
                "one, ask an admin to run `/integrity role @you executive`."
            )
        if not 1 <= days <= MAX_DAYS:
            raise UsageError(f"A survey link lasts 1 to {MAX_DAYS} days, not {days}.")
        asked = {q.id: q for q in self.store.questions(active_only=False) if q.customer}
        if question_refs:
            chosen = [_customer_question(asked, ref) for ref in question_refs]
        else:
            rounds = self.store.rounds()
            latest = rounds[-1].question_ids if rounds else ()
            chosen = [asked[qid] for qid in latest if qid in asked]
            chosen = chosen or [q for q in asked.values() if q.anchor] or list(asked.values())[:1]
        chosen = list({q.id: q for q in chosen}.values())
        if not chosen:
            raise UsageError("No question has a customer version: add `customer:` to the bank.")
        if len(chosen) > MAX_SURVEY_QUESTIONS:
            raise UsageError(
                f"A survey link asks at most {MAX_SURVEY_QUESTIONS} questions; keep it short."
            )
        expires = self.now() + timedelta(days=days)
        token = survey.make_token(self.settings.secret, [q.id for q in chosen], expires)
        return f"{self.settings.public_url}/survey/{token}", chosen, expires

    def survey_form(self, token: str) -> tuple[list[Question], str]:
        """The questions a survey link asks and the form's CSRF token; SurveyRefused for a
        forged, expired or already answered link."""
        link = self._survey_link(token)
        return self._survey_questions(link), survey.form_token(
            self.settings.secret, link, self.now()
        )

    def answer_survey(
        self, token: str, form: str, ratings: Mapping[str, str], comments: Mapping[str, str]
    ) -> int:
        """Store a customer's answers from the survey page: the link checked (signature,
        expiry, not answered yet), the form checked (CSRF), every question rated 1-5; the
        answers and the link's used-hash in one transaction. Only the day is kept."""
        link = self._survey_link(token)
        survey.check_form_token(self.settings.secret, link, form, self.now())
        said = []
        for question in self._survey_questions(link):
            rating = (ratings.get(question.id) or "").strip()
            if rating not in {"1", "2", "3", "4", "5"}:
                raise InvalidAnswer("Please choose an answer from 1 to 5 for every question.")
            comment = " ".join((comments.get(question.id) or "").split())
            if len(comment) > survey.MAX_COMMENT_CHARS:
                raise InvalidAnswer(
                    f"A comment can be up to {survey.MAX_COMMENT_CHARS:,} characters; "
                    f"this one is {len(comment):,}. Please shorten it."
                )
            said.append(CustomerSaid(question.id, int(rating), comment, self.now().date()))
        try:
            return self.add_customer_answers(
                said, "survey", used_link=survey.used_token_hash(self.settings.secret, link)
            )
        except InvalidAnswer:
            raise _link_used() from None

    def _survey_link(self, token: str) -> survey.SurveyLink:
        link = survey.read_token(self.settings.secret, token, self.now())
        if self.store.survey_link_used(survey.used_token_hash(self.settings.secret, link)):
            raise _link_used()
        return link

    def _survey_questions(self, link: survey.SurveyLink) -> list[Question]:
        try:
            questions = [self.store.question(qid) for qid in link.question_ids]
        except NotFound:
            questions = []
        if not questions or any(q.customer is None for q in questions):
            raise survey.SurveyRefused(
                "invalid", "This survey is no longer available. Thank you for opening it."
            )
        return questions

    def customer_note(self) -> tuple[str, date] | None:
        """The "what we heard, what we are changing" note on the survey page, if any."""
        return self.store.customer_note()

    def set_customer_note(self, requester: Person, text: str) -> None:
        """Write (or with "" take down) the note customers see on the survey page
        (executives and admins)."""
        if not (requester.is_executive or requester.is_admin):
            raise NotAllowed("Only executives and admins can write the note for customers.")
        text = " ".join(text.split())
        if len(text) > MAX_NOTE_CHARS:
            raise UsageError(
                f"The note is {len(text)} characters; keep it under {MAX_NOTE_CHARS}: "
                "what you heard, and what you are changing."
            )
        self.store.set_customer_note(text, self.now().date())

    def customer_answers_in_scope(self, scope: Scope) -> tuple[list[CustomerAnswer], list[str]]:
        """The customer answers a summary or export may use, and the questions whose customer
        answers the floor hid in every round: the same floor as staff answers, per question ×
        round, closed rounds only."""
        answers = self.store.customer_answers([r.id for r in scope.rounds if not r.is_open])
        kept, hidden = self.settings.floor.apply(answers, lambda a: (a.round_id, a.question_id))
        shown = {a.question_id for a in kept}
        return kept, list(dict.fromkeys(q for _, q in hidden if q not in shown))

    # -- proposals ---------------------------------------------------------------

    def propose(self, person: Person, text: str) -> Proposal:
        """Propose a question for the other side, anonymously; an admin approves it."""
        text = " ".join(text.split())
        if len(text) < 10:
            raise UsageError(
                "Usage: `/integrity propose <your question>`: a full question, e.g. "
                "`/integrity propose When did you last talk to a customer yourself?`"
            )
        if len(text) > MAX_PROPOSAL_CHARS:
            raise UsageError(
                f"That question is {len(text)} characters; keep it under {MAX_PROPOSAL_CHARS}."
            )
        for_role: Role = "frontline" if person.is_executive else "executive"
        return self.store.add_proposal(
            text, person.role, for_role, anonymity.proposal_pseudonym(self.settings.secret, person)
        )

    def proposals(self, requester: Person) -> list[Proposal]:
        self.require_admin(requester, "review proposed questions")
        return self.store.proposals("pending")

    def proposal(self, requester: Person, proposal_id: int) -> Proposal:
        """One proposed question, pending or decided (admins only)."""
        self.require_admin(requester, "review proposed questions")
        if not 0 < proposal_id < 2**63:  # SQLite's integers: a larger id is no proposal
            raise NotFound(f"There is no proposal {proposal_id}. `/integrity propose list`.")
        return self.store.proposal(proposal_id)

    def decide(
        self, requester: Person, proposal_id: int, approve: bool, *, scale: Scale | None = None
    ) -> Proposal:
        """Approve a proposal into a later round, asked on `scale` (default: the preset its
        wording suggests; `TEXT_ONLY`: in words only), or reject it (admins only)."""
        self.require_admin(requester, "approve or reject proposed questions")
        proposal = self.proposal(requester, proposal_id)
        if proposal.status != "pending":
            raise UsageError(f"Proposal {proposal_id} was already {proposal.status}.")
        question_id = None
        if approve:
            question_id = f"proposed-{proposal.id}"
            scale = scale or PRESETS[suggest_scale(proposal.text)]
            self.store.add_question(
                Question(
                    id=question_id,
                    text=proposal.text,
                    theme="proposed",
                    low_label=scale.low,
                    high_label=scale.high,
                    why_prompt="Why? Tell us more.",
                    roles=(proposal.for_role,),
                    source="proposal",
                )
            )
        return self.store.decide_proposal(
            proposal_id, "approved" if approve else "rejected", question_id
        )

    # -- follow-ups ---------------------------------------------------------------

    def add_follow_up(self, requester: Person, number: int) -> Question:
        """Follow-up `number` of the last summary's "What to ask next" (the summary of the
        last closed round, as `/integrity summary` shows it) becomes a question for both
        sides in the next round, rated between the two sides' claims (admins only)."""
        self.require_admin(requester, "add a follow-up question to the next round")
        scope = self.scope(requester, "last")
        analysis, _ = self.analysis(scope)
        listed = analysis.follow_ups
        if not listed:
            raise UsageError(
                f"The summary of {scope.label} has nothing under “What to ask next”: the "
                "two sides neither contradict nor differ there. Propose your own question "
                "with `/integrity propose`."
            )
        if not 1 <= number <= len(listed):
            raise UsageError(
                f"The summary of {scope.label} lists {counted(len(listed), 'follow-up')} under "
                f"“What to ask next”: choose 1 to {len(listed)}, e.g. `/integrity follow-up 1`."
            )
        follow_up = listed[number - 1]
        question_id = f"follow-up-{scope.rounds[-1].number}-{follow_up.question_id}"
        if any(q.id == question_id for q in self.store.questions(source="follow-up")):
            raise UsageError(
                f"Follow-up {number} is already on the list for a round: “{follow_up.ask}”."
            )
        asked_about = self.store.question(follow_up.question_id)
        question = Question(
            id=question_id,
            text=follow_up.ask or follow_up.text,
            theme=asked_about.theme,
            low_label=follow_up.low or asked_about.low_label,
            high_label=follow_up.high or asked_about.high_label,
            why_prompt=follow_up.why or asked_about.why_prompt,
            roles=ROLES,
            source="follow-up",
        )
        self.store.add_question(question)
        return question

    def require_admin(self, person: Person, what: str) -> None:
        if not person.is_admin:
            raise NotAllowed(f"Only admins can {what}.")

    def pending_proposals(self) -> list[Proposal]:
        """Proposals waiting for an admin (for the status line; no permission needed to count)."""
        return self.store.proposals("pending")

    # -- schedules --------------------------------------------------------------

    def schedules(
        self, platform: str | None = None, workspace: str | None = None
    ) -> list[WeeklySchedule]:
        """The active weekly schedules, of one workspace when given."""
        return [
            WeeklySchedule.from_row(r)
            for r in self.store.schedules()
            if platform is None or (r["platform"], r["workspace"]) == (platform, workspace)
        ]

    def teams(self) -> list[str]:
        """The teams people are in, as the platforms name them."""
        return self.store.teams()

    def set_schedule(self, requester: Person, schedule: WeeklySchedule) -> None:
        """Save a weekly schedule (admins only)."""
        self.require_admin(requester, "set the weekly check-in")
        self.store.save_schedule(schedule.to_row())

    def stop_schedule(self, requester: Person, team: str = "") -> None:
        """Turn a workspace's (or one team's) weekly check-in off (admins only)."""
        self.require_admin(requester, "turn off the weekly check-in")
        self.store.disable_schedule(requester.platform, requester.workspace, team)

    # -- what adapters keep about delivery ---------------------------------------

    def delivery_for(self, round_: Round, person: Person) -> dict | None:
        return self.store.delivery_for(round_.id, person.id)

    def answered(self, round_: Round) -> set[int]:
        """The ids of the people asked in a round who have answered any of it (reminders):
        worked out with the key, from the pseudonyms, never stored."""
        pseudonyms = self.store.answer_pseudonyms(round_.id)
        secret = self.settings.secret
        return {
            person.id
            for person, _ in self.store.asked(round_.id)
            if anonymity.pseudonym(secret, person, round_.id) in pseudonyms
        }

    def first_sighting(self, key: str) -> bool:
        """True the first time a platform event key is seen (de-duplication of retries).

        Only a keyed hash of the key is kept, with the day, for two days: no event id,
        conversation or time that could be matched with anything else."""
        return self.store.first_sighting(
            anonymity.event_key(self.settings.secret, key), self.now().date()
        )

    def save_conversation_ref(self, person: Person, reference: dict) -> None:
        """Keep where the person can be reached: never which message they sent last (a Teams
        activity id is a timestamp, and would stamp their last answer's moment)."""
        kept = {k: v for k, v in reference.items() if k not in ("activityId", "activity_id")}
        self.store.save_conversation_ref(person.id, person.platform, kept)

    def conversation_ref(self, person: Person) -> dict | None:
        return self.store.conversation_ref(person.id)

    def people_without_conversation(self, platform: str, workspace: str) -> list[Person]:
        return self.store.people_without_conversation(platform, workspace)

    def claim_channel_post(
        self, platform: str, workspace: str, channel: str, round_: Round
    ) -> bool:
        return self.store.claim_channel_post(platform, workspace, channel, round_.id)

    def complete_channel_post(
        self, platform: str, workspace: str, channel: str, round_: Round, ref: str | None
    ) -> None:
        self.store.complete_channel_post(platform, workspace, channel, round_.id, ref)

    def round_of_channel_post(self, platform: str, workspace: str, ref: str) -> Round | None:
        return self.store.round_of_channel_post(platform, workspace, ref)

    # -- forgetting -------------------------------------------------------------

    def refresh(self, person: Person) -> Person:
        """The person as stored now: an adapter that holds a `Person` across messages (the
        terminal) asks before each one, so someone who was forgotten starts afresh, as a
        new frontline person, instead of acting under a record that is gone."""
        current = self.store.person(person.platform, person.workspace, person.user_id)
        if current is not None:
            return current
        met, _ = self.meet(person.platform, person.workspace, person.user_id, person.display_name)
        return met

    def forget_me(self, person: Person) -> dict[str, int]:
        """Delete the person's answers, proposals, check-ins, conversation and identity, and
        every event key; the store then empties its -wal. Returns what was removed."""
        secret = self.settings.secret
        pseudonyms = [anonymity.pseudonym(secret, person, r.id) for r in self.store.rounds()]
        pseudonyms.append(anonymity.proposal_pseudonym(secret, person))
        removed = self.store.forget(person.id, pseudonyms)
        with self._analyses_lock:  # their words leave the summaries kept in memory too
            self._analyses.clear()
        return removed


def _grant_raises(person: Person, grant: Grant | None) -> bool:
    """Whether the platform's grant gives this person a role they do not have yet."""
    if grant == "admin":
        return not person.is_admin or not person.is_executive
    return grant == "executive" and not person.is_executive


def _link_used() -> survey.SurveyRefused:
    return survey.SurveyRefused(
        "used",
        "This survey link has already been answered: each link takes one answer. "
        "Thank you! If you have more to tell us, ask us for a new link.",
    )


def _customer_question(asked: Mapping[str, Question], ref: str) -> Question:
    """A question with a customer version, by id or a unique start of one."""
    if ref in asked:
        return asked[ref]
    matches = [q for qid, q in asked.items() if qid.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    raise UsageError(
        f"There is no question {ref!r} to ask customers. Use one of: {', '.join(asked)}."
    )


def _round_on(rounds: Sequence[Round], day: date) -> Round | None:
    opened = [r for r in rounds if r.opened_at.date() <= day]
    return opened[-1] if opened else None


@dataclass
class View:
    """What a summary, export or trend of a scope may show (see `IntegrityCheck.view`)."""

    scope: Scope
    answers: list[Answer]
    #: Round × question × role groups asked in the scope's closed rounds that show nothing.
    withheld: list[tuple[Round, str, Role]]
    #: Groups whose rows may carry their team label.
    labelled: set[anonymity.Group]
    #: Rounds of the scope still open: nothing of them is shown until they close.
    still_open: list[Round]
    floor: anonymity.Floor

    @property
    def reason(self) -> str:
        """Why a withheld side shows nothing, in words true of every cause (none, a few,
        or a team whose rest of the group is small), so the words give none away."""
        where = " in each round" if len({r for r, _, _ in self.withheld}) > 1 else ""
        if self.scope.team:
            where += f" of team {self.scope.team}, or of the rest of its group"
        return f"fewer than {self.floor.size} answers{where}: hidden to keep them anonymous"

    def hidden_sides(self) -> list[tuple[str, Role]]:
        """Question × role sides that show nothing in any closed round of the scope."""
        shown = {(a.question_id, a.role) for a in self.answers}
        return list(dict.fromkeys((q, r) for _, q, r in self.withheld if (q, r) not in shown))

    def partly_hidden(self) -> dict[tuple[str, Role], list[int]]:
        """Sides shown in some rounds of the scope but withheld in others: the round numbers."""
        shown = {(a.question_id, a.role) for a in self.answers}
        rounds: dict[tuple[str, Role], list[int]] = {}
        for round_, qid, role in self.withheld:
            if (qid, role) in shown:
                rounds.setdefault((qid, role), []).append(round_.number)
        return rounds


_shuffle = random.SystemRandom()


def _is_rating(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5


def _day(moment: datetime) -> str:
    return moment.strftime("%a %d %b %Y")
