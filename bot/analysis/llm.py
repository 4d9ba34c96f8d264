"""The LLM analysis engine: any LangChain chat model reads what the answers say, the
offline engine supplies the numbers, and the verifier keeps only grounded claims.

Switched on by `INTEGRITY_LLM`, a LangChain `provider:model` string given to
`init_chat_model`: `openai:gpt-4o-mini` (with `OPENAI_API_KEY`), the same with
`OPENAI_BASE_URL` for any OpenAI-compatible server (llama.cpp, vLLM, Ollama, LM
Studio; no key needed there), `azure_openai:…`, `ollama:…` (with its LangChain
package installed). `INTEGRITY_LLM_CONTEXT`, `INTEGRITY_LLM_DEADLINE` and
`INTEGRITY_LLM_CONCURRENCY` size the calls and bound the run (`LLMSettings`).

How a round is analysed (`analyse_with_llm`):

1. **What is sent.** Only answers with text, from groups at or above the
   anonymity floor, that were not flagged as prompt injection or junk. An answer
   goes under a short id that is only meaningful in its batch (`A12`); questions go
   as `Q3`. No person id, name, team or real answer id is ever sent. Answers sit
   between `<answers>` tags, marked as data in the system prompt; line breaks
   inside an answer are flattened so it cannot forge another answer's line.
2. **Map.** Answers are packed into batches that fit the context (counted with the
   conservative offline estimate of `bot.analysis.tokens`, minus the reply's room and
   a tenth as headroom) and the reply limit (a batch holds no more questions than the
   reply has room to describe). A question's two sides go in the same batch when they
   fit; a question too big for one batch is spread over several, each with both sides
   in proportion. Each batch gets the offline findings of its own questions as hints
   (counts, means or stances, gap, significance, verdict, candidate themes), and
   replies in a small Pydantic schema (`bot.analysis.findings`): theme titles, gists
   and a few representative answers; contradictions with quotes from both sides and a
   follow-up question. A reply cut off at the reply limit is asked again as two
   smaller batches.
3. **Verify** each reply (`bot.analysis.verify`): ungrounded claims are dropped.
   Each theme's members are then assigned here, by embedding: every answer of the
   batch joins the theme of its own question whose representatives it is nearest, in
   the space the offline engine sorts that question's themes in
   (`bot.analysis.offline.theme_vectors`).
   Titles and gists are checked against those members.
4. **Reduce.** When there was more than one batch, the batches' themes are merged
   by the model; merged themes can only point at batch themes, so their answers and
   quotes stay verified ones.
5. **Result.** Verified themes (counts per side computed here, not by the model),
   the verified contradictions, and for any question the figures call a
   contradiction that the model did not describe, the offline engine's one. The
   per-question figures, flags and hidden groups are the offline engine's.

Bounds: calls go out `INTEGRITY_LLM_CONCURRENCY` at a time (1 suits a one-slot local
server), and the whole run stops at `INTEGRITY_LLM_DEADLINE`. What the model finished by
then is kept and the result says it is partial; the rest is the offline engine's. A
`progress` callback hears after each call how far the run has got.

Fallback: if no batch could be read (the model failed, replied in the wrong shape,
or the deadline passed first), or fewer than half of the model's claims survive
verification, or no theme survives where the offline engine found some, the offline
result is returned with a note that says why in plain words.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel

from bot.analysis.embeddings import Embedder
from bot.analysis.findings import (
    MAX_THEMES,
    QUOTES_PER_SIDE,
    THEMES_PER_BATCH,
    BatchFindings,
    MergedThemes,
)
from bot.analysis.models import (
    ROLES,
    Analysis,
    AnswerRecord,
    Contradiction,
    FollowUp,
    Progress,
    QuestionInfo,
    QuestionResult,
    Quote,
    Theme,
)
from bot.analysis.offline import c_tf_idf, theme_vectors
from bot.analysis.quotes import excerpt, phrase_title
from bot.analysis.tokens import estimate_tokens
from bot.analysis.verify import (
    Batch,
    GroundedTheme,
    Verified,
    check_wording,
    verify_findings,
)
from bot.core.anonymity import Floor
from bot.core.errors import ConfigError
from bot.core.replies import counted

logger = logging.getLogger(__name__)

DEFAULT_CONTEXT_TOKENS = 16384
MIN_CONTEXT_TOKENS = 2048
#: Room kept for the model's reply in every call (a quarter of a smaller context).
OUTPUT_TOKENS = 1536
#: Share of the context a call may fill, against an estimate that is itself generous.
HEADROOM = 0.9
DEFAULT_DEADLINE_SECONDS = 300
MIN_DEADLINE_SECONDS = 10
DEFAULT_CONCURRENCY = 1
MAX_CONCURRENCY = 32
#: One call's own time limit (the deadline is shorter when it is shorter).
CALL_TIMEOUT_SECONDS = 120
#: What a theme and a contradiction take of the reply, generously, for sizing batches.
THEME_REPLY_TOKENS = 130
CONTRADICTION_REPLY_TOKENS = 220
REPLY_FRAME_TOKENS = 20
#: A batch whose reply is cut off is asked again as two halves while it has more answers.
MIN_SPLIT_ANSWERS = 4
#: A batch's theme holds at least this many answers; after merging, at least the floor.
MIN_BATCH_THEME_ANSWERS = 2
#: A claim survives verification at this rate or better, or the offline result is shown.
MIN_SURVIVAL = 0.5
#: The offline engine's themes of a question sent as hints, at most.
CANDIDATE_THEMES = 3
#: Answers longer than this many characters are cut (at a sentence end) for the model.
MAX_ANSWER_CHARS = 1200
#: What a `Q12 executive:` heading line costs, at most.
HEADING_TOKENS = 8
EXAMPLE = "openai:gpt-4o-mini"
#: The name of the threads calls run on (a test waits for them before stopping its server).
CALL_THREAD_NAME = "integrity-llm-call"

ProgressHook = Callable[[Progress], None]
#: The offline verdict, as the facts line says it to the model.
_VERDICTS = {
    "contradict": "the sides contradict each other",
    "differ": "the sides differ, but not from opposite sides of the middle",
    "agree": "no contradiction in the figures",
}


# --- configuration ------------------------------------------------------------------------


@dataclass(frozen=True)
class LLMSettings:
    """How big a call may be, how long the whole run may take, and how many calls at once."""

    context_tokens: int = DEFAULT_CONTEXT_TOKENS
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS
    concurrency: int = DEFAULT_CONCURRENCY

    @property
    def output_tokens(self) -> int:
        """Room kept for the model's reply: `OUTPUT_TOKENS`, or a quarter of a small context."""
        return min(OUTPUT_TOKENS, self.context_tokens // 4)

    @property
    def prompt_budget(self) -> int:
        """What one call's prompt may fill, by the estimate."""
        return int(self.context_tokens * HEADROOM) - self.output_tokens

    @property
    def max_themes(self) -> int:
        """Themes a batch's reply has room for, next to one contradiction."""
        room = self.output_tokens - REPLY_FRAME_TOKENS - CONTRADICTION_REPLY_TOKENS
        return max(1, min(THEMES_PER_BATCH, room // THEME_REPLY_TOKENS))

    @property
    def max_questions(self) -> int:
        """Questions per batch: each may need a contradiction described in the reply."""
        room = self.output_tokens - REPLY_FRAME_TOKENS - self.max_themes * THEME_REPLY_TOKENS
        return max(1, room // CONTRADICTION_REPLY_TOKENS)

    @property
    def call_timeout(self) -> float:
        return float(min(CALL_TIMEOUT_SECONDS, self.deadline_seconds))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LLMSettings:
        env = os.environ if env is None else env
        context = _whole_number(
            env,
            "INTEGRITY_LLM_CONTEXT",
            DEFAULT_CONTEXT_TOKENS,
            MIN_CONTEXT_TOKENS,
            None,
            f"the model's context window in tokens, {MIN_CONTEXT_TOKENS} or more (e.g. 8192)",
        )
        deadline = _whole_number(
            env,
            "INTEGRITY_LLM_DEADLINE",
            DEFAULT_DEADLINE_SECONDS,
            MIN_DEADLINE_SECONDS,
            None,
            f"how many seconds an analysis may take, {MIN_DEADLINE_SECONDS} or more (e.g. 300)",
        )
        concurrency = _whole_number(
            env,
            "INTEGRITY_LLM_CONCURRENCY",
            DEFAULT_CONCURRENCY,
            1,
            MAX_CONCURRENCY,
            f"how many calls the model serves at once, 1 to {MAX_CONCURRENCY} "
            "(1 for a local server with one slot)",
        )
        return cls(context_tokens=context, deadline_seconds=deadline, concurrency=concurrency)


def _whole_number(
    env: Mapping[str, str], name: str, default: int, low: int, high: int | None, what: str
) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < low or (high is not None and int(raw) > high):
        raise ConfigError(f"{name} is {raw!r}: set it to {what}, or unset it.")
    return int(raw)


def model_from_env(env: Mapping[str, str] | None = None) -> Any:
    """The chat model `INTEGRITY_LLM` names; a `ConfigError` saying what to set otherwise."""
    env = os.environ if env is None else env
    spec = (env.get("INTEGRITY_LLM") or "").strip()
    help_ = (
        f"Set INTEGRITY_LLM to a LangChain provider:model, e.g. {EXAMPLE} (with OPENAI_API_KEY), "
        "openai:<model> with OPENAI_BASE_URL for a local OpenAI-compatible server, or "
        "ollama:<model>; or use the offline engine, which needs no model."
    )
    if not spec:
        raise ConfigError(f"No LLM is configured. {help_}")
    provider, _, name = spec.partition(":")
    if not provider or not name:
        raise ConfigError(f"INTEGRITY_LLM is {spec!r}, not provider:model. {help_}")
    settings = LLMSettings.from_env(env)  # a bad setting fails now, not in a summary
    kwargs: dict[str, Any] = {"temperature": 0}
    if provider in ("openai", "azure_openai"):
        kwargs |= {
            "timeout": settings.call_timeout,
            "max_retries": 1,
            "max_tokens": settings.output_tokens,
        }
    if provider == "openai":
        base_url = (env.get("OPENAI_BASE_URL") or "").strip() or None
        key = (env.get("OPENAI_API_KEY") or "").strip()
        if not key and base_url is None:
            raise ConfigError(
                f"INTEGRITY_LLM is {spec!r}: set OPENAI_API_KEY, or OPENAI_BASE_URL for a local "
                "OpenAI-compatible server (which needs no key)."
            )
        kwargs |= {"api_key": key or "not-needed", "base_url": base_url}
    from langchain.chat_models import init_chat_model

    try:
        return init_chat_model(spec, **kwargs)
    except ImportError as error:
        raise ConfigError(
            f"INTEGRITY_LLM is {spec!r}, but LangChain's package for {provider!r} is not "
            f"installed ({error}). Install it (e.g. pip install langchain-{provider}) or "
            "choose another provider."
        ) from None
    except ValueError as error:
        raise ConfigError(f"INTEGRITY_LLM is {spec!r}: {error}") from None


def model_label(llm: Any) -> str:
    """The model's name for the report's `engine` field."""
    for attribute in ("model_name", "model", "deployment_name"):
        value = getattr(llm, attribute, None)
        if isinstance(value, str) and value:
            return value
    return getattr(llm, "_llm_type", type(llm).__name__)


# --- the engine ---------------------------------------------------------------------------


class _Failed(Exception):
    """The model could not give a usable result; the message says why, in plain words."""


@dataclass
class _CallFailure:
    """One call that gave nothing usable: why, in words for readers, and whether it was cut off."""

    reason: str
    cut_off: bool = False


def analyse_with_llm(
    answers: Sequence[AnswerRecord],
    *,
    offline: Analysis,
    llm: Any,
    min_group: int,
    questions: Sequence[QuestionInfo] = (),
    settings: LLMSettings | None = None,
    embedder: Embedder | None = None,
    progress: ProgressHook | None = None,
) -> Analysis:
    """The round analysed by `llm`, grounded by `offline`; `offline` itself on failure."""
    settings = settings or LLMSettings.from_env()
    run = _Run(offline, llm, settings, min_group, embedder, progress)
    try:
        return run.analyse(answers)
    except _Failed as failure:
        logger.warning("LLM analysis fell back to the offline engine: %s", failure)
        fallback = offline.model_copy(deep=True)
        fallback.notes.append(f"{failure} This is the offline engine's result.")
        return fallback


@dataclass
class _Reading:
    """What the map step got: the batches read with their replies, and what was not read."""

    read: list[tuple[Batch, BatchFindings]] = field(default_factory=list)
    unread: list[Batch] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    splits: int = 0
    out_of_time: bool = False


class _Run:
    """One analysis with the model: batches, calls, verification, members, merge."""

    def __init__(
        self,
        offline: Analysis,
        llm: Any,
        settings: LLMSettings,
        min_group: int = 5,
        embedder: Embedder | None = None,
        progress: ProgressHook | None = None,
    ) -> None:
        from bot.core.prompts import chat_prompt

        self.offline = offline
        self.llm = llm
        self.label = model_label(llm)
        self.settings = settings
        self.floor = Floor(min_group)
        self.embedder = embedder
        self.progress = progress
        self.results = {q.question_id: q for q in offline.questions}
        self.aliases = {q.question_id: f"Q{i}" for i, q in enumerate(offline.questions, start=1)}
        self.map_prompt = chat_prompt("map", {"max_themes", "facts", "answers"})
        self.reduce_prompt = chat_prompt("reduce", {"max_themes", "themes"})
        self.calls = 0
        self.deadline = time.monotonic() + settings.deadline_seconds
        self.vectors: dict[str, np.ndarray] = {}
        self.by_id: dict[str, AnswerRecord] = {}

    # -- the whole run ----------------------------------------------------------------------

    def analyse(self, answers: Sequence[AnswerRecord]) -> Analysis:
        sendable = self.sendable(answers)
        if not sendable:
            raise _Failed("No answer had text the model could read (after the floor and flags).")
        self.by_id = {a.id: a for a in sendable}
        batches = self.batches(sendable)
        reading = self.read(batches, len(sendable))
        if not reading.read:
            raise _Failed(self.unread_reason(reading))
        checks = [verify_findings(reply, batch, self.results) for batch, reply in reading.read]
        proposed = sum(c.proposed for c in checks)
        dropped = sum(len(c.dropped) for c in checks)
        kept = sum(len(c.themes) + len(c.contradictions) for c in checks)
        if proposed and kept / proposed < MIN_SURVIVAL:
            raise _Failed(
                f"The model's output failed verification: {kept} of {proposed} claims were "
                "grounded in the answers."
            )
        self.embed(sendable)
        grounded: list[GroundedTheme] = []
        reworded = 0
        for (batch, _), check in zip(reading.read, checks, strict=True):
            themes, changes = self.members(batch, check.themes)
            grounded += themes
            reworded += changes
        themes, merge_note = self.merge(grounded) if len(reading.read) > 1 else (grounded, "")
        model_themes = self.to_themes(themes, self.by_id)
        if not model_themes and self.offline.themes and not reading.unread:
            raise _Failed("No theme from the model was grounded in the answers.")
        read_ids = {a.id for batch, _ in reading.read for a in batch.answers.values()}

        result = self.offline.model_copy(deep=True)
        result.engine = f"llm:{self.label}"
        result.themes = model_themes + self.offline_themes_unread(sendable, read_ids)
        contradictions, described_offline, beyond_figures = self.contradictions(checks)
        result.contradictions = contradictions
        result.follow_ups = self.follow_ups(checks, contradictions)
        result.notes.append(
            f"Written by {self.label} from {counted(len(read_ids), 'answer')} in "
            f"{counted(self.calls, 'call')}; answers of groups under the floor, flagged "
            "answers and names were never sent."
        )
        if reading.unread:
            result.notes.append(self.partial_note(reading, len(read_ids), len(sendable)))
        if dropped:
            were = "was" if dropped == 1 else "were"
            result.notes.append(
                f"{counted(dropped, 'claim')} from the model {were} not grounded in the answers "
                f"and {were} left out."
            )
        if reworded:
            were = "was" if reworded == 1 else "were"
            titles = counted(reworded, "theme title or gist", "theme titles or gists")
            result.notes.append(
                f"{titles} {were} not borne out by the theme's answers; titles were taken from "
                "the answers instead."
            )
        if beyond_figures:
            were, them = ("was", "it by its") if beyond_figures == 1 else ("were", "them by their")
            result.notes.append(
                f"{counted(beyond_figures, 'contradiction')} {were} read by the model in what "
                f"the answers say, where the figures show none: judge {them} quotes."
            )
        if described_offline:
            were, them = ("was", "it") if described_offline == 1 else ("were", "them")
            result.notes.append(
                f"{counted(described_offline, 'contradiction')} the figures show {were} not "
                "described by the model; the offline engine's description and quotes are shown "
                f"for {them}."
            )
        if merge_note:
            result.notes.append(merge_note)
        return result

    def unread_reason(self, reading: _Reading) -> str:
        if reading.failures:
            return f"The model {self.label} could not be used: {reading.failures[0]}."
        return (
            f"The model {self.label} did not finish reading any answers within "
            f"INTEGRITY_LLM_DEADLINE ({self.settings.deadline_seconds:g} s)."
        )

    def partial_note(self, reading: _Reading, read: int, total: int) -> str:
        if reading.out_of_time:
            why = f"INTEGRITY_LLM_DEADLINE ({self.settings.deadline_seconds:g} s) passed first"
        else:
            why = reading.failures[0]
        return (
            f"Partial result: the model read {read} of {counted(total, 'answer')} ({why}). "
            "Themes of questions it did not read are the offline engine's, and contradictions "
            "there come from the figures."
        )

    # -- what is sent -----------------------------------------------------------------------

    def sendable(self, answers: Sequence[AnswerRecord]) -> list[AnswerRecord]:
        hidden = {(h.question_id, h.role) for h in self.offline.hidden}
        flagged = {f.answer_id for f in self.offline.flagged}
        return [
            a
            for a in answers
            if a.text.strip() and a.id not in flagged and (a.question_id, a.role) not in hidden
        ]

    def facts(self, question_ids: Sequence[str]) -> str:
        return "\n".join(self.fact(self.results[qid]) for qid in question_ids)

    def fact(self, result: QuestionResult) -> str:
        """One question's offline findings, as hints: they can miss what the words say."""
        line = f"{self.aliases[result.question_id]}: {_flat(result.question)}"
        if result.suppressed:
            return line + " | one side is under the anonymity floor: no comparison"
        sides = []
        for role in ROLES:
            side = getattr(result, role)
            mean = f", mean {side.mean_rating}" if side.mean_rating is not None else ""
            stance = f", stance {side.stance:+.2f}" if side.stance is not None else ""
            sides.append(f"{role} n={side.n}{mean}{stance}")
        line += " | " + "; ".join(sides)
        if result.basis == "none":
            line += " | not enough scored answers to compare"
        else:
            verdict = _VERDICTS.get(result.verdict, "no contradiction in the figures")
            if result.diverges:
                verdict = _VERDICTS["contradict"]
            line += f" | gap {result.gap:+.2f} (p={result.p_value:.2g}) | {verdict}"
        candidates = [
            f"{_flat(t.title)[:40]} ({len(t.answer_ids)})"
            for t in self.offline.themes
            if t.question_id == result.question_id
        ][:CANDIDATE_THEMES]
        if candidates:
            line += " | candidate themes: " + "; ".join(candidates)
        return line

    def map_inputs(self, batch: Batch) -> dict[str, str]:
        themes = max(1, min(self.settings.max_themes, len(batch.answers) // 4))
        return {
            "max_themes": str(themes),
            "facts": self.facts(list(batch.question_ids.values())),
            "answers": _answer_block(batch),
        }

    def batches(self, sendable: list[AnswerRecord]) -> list[Batch]:
        """Answers packed into batches that fit the context and the reply: a question's two
        sides together when they fit, each batch paying only for its own questions' facts."""
        fixed = _prompt_tokens(self.map_prompt, {"max_themes": "6", "facts": "", "answers": ""})
        budget = self.settings.prompt_budget - fixed  # for the facts and the answer lines
        fact_cost = {qid: estimate_tokens(self.fact(r)) + 1 for qid, r in self.results.items()}
        if budget - max(fact_cost.values(), default=0) < 200:
            raise _Failed(
                f"INTEGRITY_LLM_CONTEXT ({self.settings.context_tokens}) leaves no room for "
                "answers; set it to the model's real context window."
            )
        by_question: dict[str, list[AnswerRecord]] = defaultdict(list)
        for answer in sendable:
            by_question[answer.question_id].append(answer)
        batches: list[Batch] = []
        current: list[AnswerRecord] = []
        used = 0
        questions: set[str] = set()
        headings: set[tuple[str, str]] = set()

        def flush() -> None:
            nonlocal current, used
            if current:
                batches.append(self.batch(current))
            current, used = [], 0
            questions.clear()
            headings.clear()

        for qid in self.results:
            group = _interleaved(by_question.get(qid, []))
            if not group:
                continue
            whole = fact_cost[qid] + 2 * HEADING_TOKENS
            whole += sum(_line_tokens(a, len(current) + i + 1) for i, a in enumerate(group))
            if current and (used + whole > budget or len(questions) >= self.settings.max_questions):
                flush()
            for answer in group:
                cost = _line_tokens(answer, len(current) + 1)
                cost += 0 if qid in questions else fact_cost[qid]
                cost += 0 if (qid, answer.role) in headings else HEADING_TOKENS
                if current and used + cost > budget:
                    flush()
                    cost = _line_tokens(answer, 1) + fact_cost[qid] + HEADING_TOKENS
                current.append(answer)
                questions.add(qid)
                headings.add((qid, answer.role))
                used += cost
        flush()
        return batches

    def batch(self, answers: list[AnswerRecord]) -> Batch:
        """A batch of these answers, ordered by question and side so each group has one
        heading, under batch-local ids."""
        order = {qid: i for i, qid in enumerate(self.results)}
        ordered = sorted(answers, key=lambda a: (order.get(a.question_id, 0), ROLES.index(a.role)))
        return Batch(
            answers={f"A{i}": a for i, a in enumerate(ordered, start=1)},
            question_ids={self.aliases[a.question_id]: a.question_id for a in ordered},
        )

    def halves(self, batch: Batch) -> list[Batch]:
        """The batch as two smaller ones, each with every question and side in proportion:
        the answers are in question and side order, so taking every other one splits each
        group evenly (and a group of one goes to one half, but not every such group to the
        same half)."""
        answers = list(batch.answers.values())
        return [self.batch(part) for part in (answers[0::2], answers[1::2]) if part]

    # -- calling the model ------------------------------------------------------------------

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def call_many(
        self,
        prompt: Any,
        schema: type[BaseModel],
        inputs: list[dict],
        on_result: Callable[[int, Any], None] = lambda index, outcome: None,
    ) -> list[Any]:
        """One structured call per input, `concurrency` at a time, until the deadline.

        Each outcome is the parsed reply, a `_CallFailure`, or None for a call that did not
        finish in time. Calls run on daemon threads: one still waiting on the server at the
        deadline is left behind, and cannot keep the process alive."""
        chain = prompt | self.llm.with_structured_output(schema, include_raw=True)
        outcomes: list[Any] = [None] * len(inputs)
        jobs: queue.SimpleQueue[int] = queue.SimpleQueue()
        for index in range(len(inputs)):
            jobs.put(index)
        finished: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()
        stop = threading.Event()

        def work() -> None:
            while not stop.is_set():
                try:
                    index = jobs.get_nowait()
                except queue.Empty:
                    return
                try:
                    output: Any = chain.invoke(inputs[index])
                except Exception as error:  # noqa: BLE001 - every failure becomes a reason
                    output = error
                finished.put((index, output))

        for _ in range(min(self.settings.concurrency, len(inputs))):
            threading.Thread(target=work, daemon=True, name=CALL_THREAD_NAME).start()
        try:
            for _ in inputs:
                remaining = self.remaining()
                if remaining <= 0:
                    break
                try:
                    index, output = finished.get(timeout=remaining)
                except queue.Empty:
                    break
                self.calls += 1
                outcomes[index] = self.outcome(output, schema)
                on_result(index, outcomes[index])
        finally:
            stop.set()
        return outcomes

    def outcome(self, output: Any, schema: type[BaseModel]) -> Any:
        """A call's output as the parsed reply, or a `_CallFailure` saying why in plain words."""
        if isinstance(output, Exception):
            logger.warning("LLM call failed: %r", output)
            return self.failure(output)
        raw = output.get("raw")
        finish = (getattr(raw, "response_metadata", None) or {}).get("finish_reason")
        if output.get("parsing_error") is not None or output.get("parsed") is None:
            logger.warning("LLM reply not in the schema: %s", output.get("parsing_error"))
            if finish == "length":
                return self.cut_off()
            return _CallFailure("it did not reply in the expected shape")
        value = output["parsed"]
        return value if isinstance(value, schema) else schema.model_validate(value)

    def cut_off(self) -> _CallFailure:
        limit = getattr(self.llm, "max_tokens", None)  # the model's own, when it says
        limit = limit if isinstance(limit, int) else self.settings.output_tokens
        return _CallFailure(
            f"its reply was cut off at the reply limit ({limit} tokens) even for small batches",
            cut_off=True,
        )

    def failure(self, error: Exception) -> _CallFailure:
        """What went wrong, for a reader: never the exception's own repr."""
        kind = type(error).__name__
        names = {k.__name__ for k in type(error).__mro__}
        timeout = f"{self.settings.call_timeout:g}"
        if kind == "LengthFinishReasonError":
            return self.cut_off()
        if names & {"TimeoutError", "APITimeoutError", "TimeoutException", "ReadTimeout"}:
            return _CallFailure(f"it did not answer within {timeout} s")
        if names & {"ConnectionError", "APIConnectionError", "ConnectError"}:
            return _CallFailure(
                "it could not be reached (check that the server is running, and OPENAI_BASE_URL)"
            )
        if names & {"AuthenticationError", "PermissionDeniedError"}:
            return _CallFailure("the server refused the API key (check OPENAI_API_KEY)")
        if "RateLimitError" in names:
            return _CallFailure("the server is rate-limiting us or out of quota; try later")
        if "NotFoundError" in names:
            return _CallFailure("the server does not know this model (check INTEGRITY_LLM)")
        if names & {"BadRequestError", "UnprocessableEntityError"}:
            return _CallFailure(
                "the server refused the request (is INTEGRITY_LLM_CONTEXT larger than the "
                "model's context window?)"
            )
        if "APIStatusError" in names:
            return _CallFailure("the server failed with an error of its own")
        return _CallFailure(f"it failed unexpectedly ({kind}; the log has the details)")

    def read(self, batches: list[Batch], total: int) -> _Reading:
        """The map step: every batch asked, cut-off ones again as halves, until the deadline."""
        reading = _Reading()
        read_answers = 0
        pending: list[Batch] = []
        retry: list[Batch] = []

        def collect(index: int, outcome: Any) -> None:
            nonlocal read_answers
            batch = pending[index]
            if isinstance(outcome, _CallFailure):
                if outcome.cut_off and len(batch.answers) > MIN_SPLIT_ANSWERS:
                    reading.splits += 1
                    retry.extend(self.halves(batch))
                else:
                    reading.failures.append(outcome.reason)
                    reading.unread.append(batch)
                return
            reading.read.append((batch, outcome))
            read_answers += len(batch.answers)
            self.report("reading", read_answers, total)

        self.report("reading", 0, total)
        retry.extend(batches)
        while retry:
            pending[:], retry[:] = retry, []
            outcomes = self.call_many(
                self.map_prompt, BatchFindings, [self.map_inputs(b) for b in pending], collect
            )
            late = [b for b, outcome in zip(pending, outcomes, strict=True) if outcome is None]
            if late or (retry and self.remaining() <= 0):
                reading.out_of_time = True
                reading.unread += late + retry
                break
        if reading.splits:
            logger.info("LLM: %d cut-off batch(es) were asked again as halves", reading.splits)
        return reading

    def report(self, step: str, done: int, total: int) -> None:
        if self.progress is None:
            return
        try:
            self.progress(Progress(step=step, done=done, total=total))
        except Exception:  # a broken status line must not cost the summary
            logger.exception("The analysis progress callback failed")

    # -- members, titles and keywords --------------------------------------------------------

    def embed(self, sendable: list[AnswerRecord]) -> None:
        # Members are placed as the offline engine sorts its themes (its question's common
        # ground off, the theme metric, the paraphrase encoder beside): with a model's
        # representatives for each theme, that places the rest nearer a person's piles
        # than the sentence encoder's raw vectors do.
        self.vectors = theme_vectors(sendable, self.embedder, placed=self.offline.placed)

    def members(self, batch: Batch, themes: list[GroundedTheme]) -> tuple[list[GroundedTheme], int]:
        """Each answer of the batch joins the nearest theme of its own question (an answer a
        theme names stays with it); themes left smaller than the floor give their members to
        the next nearest. (The floor applies to themes once merged: a batch may be small.)
        Then keywords, and the title and gist checked against the members.
        Returns the themes and how many titles or gists were replaced."""
        themes = [t for t in themes if t.representatives]
        answers = list(batch.answers.values())
        by_id = {a.id: a for a in answers}
        assignment: dict[int, list[str]] = {}
        while themes:
            assignment = self.assign(answers, themes, by_id)
            sizes = [len(assignment[n]) for n in range(len(themes))]
            smallest = min(range(len(themes)), key=lambda n: sizes[n])
            if sizes[smallest] >= MIN_BATCH_THEME_ANSWERS:
                break
            logger.info(
                "LLM theme %r has %d answer(s) in its batch: they go to the next nearest theme",
                themes[smallest].title,
                sizes[smallest],
            )
            themes.pop(smallest)
        if not themes:
            return [], 0
        replaced = 0
        keywords = c_tf_idf(
            [[by_id[i].text for i in assignment[n]] for n in range(len(themes))],
            set(_words_of(batch.question_ids.values(), self.results)),
        )
        for n, theme in enumerate(themes):
            theme.answer_ids = assignment[n]
            theme.keywords = keywords[n]
            members = [by_id[i] for i in theme.answer_ids]
            replaced += len(check_wording(theme, members))
            if not theme.title:
                theme.title = phrase_title(by_id[theme.representatives[0]].text)
        return themes, replaced

    def assign(
        self,
        answers: list[AnswerRecord],
        themes: list[GroundedTheme],
        by_id: dict[str, AnswerRecord],
    ) -> dict[int, list[str]]:
        named: dict[str, int] = {}
        for n, theme in enumerate(themes):
            for rep in theme.representatives:
                named.setdefault(rep, n)
        centroids = [
            _unit(np.mean([self.vectors[r] for r in t.representatives], axis=0)) for t in themes
        ]
        asked = [{by_id[r].question_id for r in t.representatives} for t in themes]
        assignment: dict[int, list[str]] = defaultdict(list)
        for answer in answers:
            if answer.id in named:
                assignment[named[answer.id]].append(answer.id)
                continue
            candidates = [n for n in range(len(themes)) if answer.question_id in asked[n]]
            vector = self.vectors[answer.id]
            if not candidates or not np.any(vector):
                continue
            best = max(candidates, key=lambda n: (float(vector @ centroids[n]), -n))
            assignment[best].append(answer.id)
        return assignment

    # -- merging themes across batches ------------------------------------------------------

    def merge(self, themes: list[GroundedTheme]) -> tuple[list[GroundedTheme], str]:
        """Merge the batches' themes with the model until one call holds them all; unmerged
        themes are kept as they are if the model fails or the deadline passes."""
        budget = self.settings.prompt_budget - _prompt_tokens(
            self.reduce_prompt, {"max_themes": "10", "themes": ""}
        )
        while len(themes) > 1:
            groups = _pack(themes, budget)
            done = 0
            self.report("merging", 0, len(groups))

            def counted(index: int, outcome: Any, total: int = len(groups)) -> None:
                nonlocal done
                done += 1
                self.report("merging", done, total)

            replies = self.call_many(
                self.reduce_prompt,
                MergedThemes,
                [{"max_themes": str(MAX_THEMES), "themes": _theme_block(g)} for g in groups],
                counted,
            )
            if any(r is None or isinstance(r, _CallFailure) for r in replies):
                failure = next((r for r in replies if isinstance(r, _CallFailure)), None)
                why = (
                    failure.reason
                    if failure
                    else f"INTEGRITY_LLM_DEADLINE ({self.settings.deadline_seconds:g} s) passed"
                )
                return themes, (
                    f"The themes of different batches were not merged ({why}); some may repeat."
                )
            merged = [t for g, r in zip(groups, replies, strict=True) for t in self.merged(g, r)]
            if len(groups) == 1 or len(merged) >= len(themes):
                return merged, ""
            themes = merged
        return themes, ""

    def merged(self, themes: list[GroundedTheme], reply: MergedThemes) -> list[GroundedTheme]:
        """The reply's merged themes over the input themes; inputs no merged theme claims stay
        as they were, so nothing grounded is lost and nothing ungrounded is added."""
        by_alias = {f"T{i}": t for i, t in enumerate(themes, start=1)}
        used: set[str] = set()
        out: list[GroundedTheme] = []
        for merged in reply.themes:
            members = []
            for cited in merged.theme_ids:
                alias = "".join(ch for ch in cited if ch.isalnum()).upper()
                if alias in by_alias and alias not in used:
                    used.add(alias)
                    members.append(by_alias[alias])
            if not members:
                logger.warning("LLM merged theme %r cites no input theme; dropped", merged.title)
                continue
            members.sort(key=lambda m: -len(m.answer_ids))
            quotes: list[Quote] = []
            for member in members:
                for quote in member.quotes:
                    if len(quotes) < 2 and all(q.answer_id != quote.answer_id for q in quotes):
                        quotes.append(quote)
            theme = GroundedTheme(
                title=_flat(merged.title)[:80],
                summary=_flat(merged.gist),
                representatives=[r for m in members for r in m.representatives],
                quotes=quotes,
                answer_ids=list(dict.fromkeys(i for m in members for i in m.answer_ids)),
                keywords=list(dict.fromkeys(k for m in members for k in m.keywords))[:5],
                seen=set().union(*(m.seen for m in members)),
            )
            # the merged wording is checked against the answers, as the batches' was
            check_wording(theme, [self.by_id[i] for i in theme.answer_ids if i in self.by_id])
            theme.title = theme.title or members[0].title
            theme.summary = theme.summary or members[0].summary
            out.append(theme)
        out += [t for alias, t in by_alias.items() if alias not in used]
        return out

    # -- the result's themes and contradictions ---------------------------------------------

    def to_themes(self, themes: list[GroundedTheme], by_id: dict[str, AnswerRecord]) -> list[Theme]:
        out: list[Theme] = []
        for theme in themes:
            members = [by_id[i] for i in theme.answer_ids if i in by_id]
            if len(members) < self.floor.size:
                logger.info("LLM theme %r has fewer answers than the floor: left out", theme.title)
                continue
            counts = {role: sum(1 for a in members if a.role == role) for role in ROLES}
            asked = {a.question_id for a in members}
            raised_by = "both"
            # a side is silent on a theme only if the model read that side's answers to it
            for role, other in (("executive", "frontline"), ("frontline", "executive")):
                if counts[other] == 0 and any((q, other) in theme.seen for q in asked):
                    raised_by = role
            out.append(
                Theme(
                    title=theme.title,
                    summary=theme.summary,
                    keywords=theme.keywords,
                    answer_ids=[a.id for a in members],
                    # a side's count under the floor is never shown
                    executive=None
                    if self.floor.hides(counts["executive"])
                    else counts["executive"],
                    frontline=None
                    if self.floor.hides(counts["frontline"])
                    else counts["frontline"],
                    question_id=next(iter(asked)) if len(asked) == 1 else None,
                    quotes=theme.quotes,
                    raised_by=raised_by,
                )
            )
        out.sort(key=lambda t: -len(t.answer_ids))
        return out[:MAX_THEMES]

    def offline_themes_unread(
        self, sendable: list[AnswerRecord], read_ids: set[str]
    ) -> list[Theme]:
        """The offline engine's themes of questions the model read none of (a partial run)."""
        read_questions = {a.question_id for a in sendable if a.id in read_ids}
        unread = {a.question_id for a in sendable} - read_questions
        return [t.model_copy(deep=True) for t in self.offline.themes if t.question_id in unread]

    def follow_ups(
        self, checks: list[Verified], contradictions: list[Contradiction]
    ) -> list[FollowUp]:
        """What to ask next: the model's question for each contradiction it described, the
        offline engine's (from the bank's `why`) where it wrote none; then the offline
        engine's for the other questions that differ."""
        written: dict[str, str] = {}
        for check in checks:
            for qid, text in check.follow_ups.items():
                written.setdefault(qid, text)
        offline = {f.question_id: f for f in self.offline.follow_ups}
        out: list[FollowUp] = []
        for contradiction in contradictions:
            qid = contradiction.question_id
            if qid in written:
                out.append(FollowUp(question_id=qid, text=written[qid]))
            elif qid in offline:
                out.append(offline[qid].model_copy())
        listed = {f.question_id for f in out}
        out += [f.model_copy() for f in self.offline.follow_ups if f.question_id not in listed]
        return out

    def contradictions(self, checks: list[Verified]) -> tuple[list[Contradiction], int, int]:
        """The model's verified contradictions, one per question, and the offline one for a
        diverging question the model did not describe. Ordered as the offline engine ranks
        its contradictions, then the model's own finds by the size of the gap. Also returns
        how many came from offline, and how many the figures do not show."""
        found: dict[str, list[Contradiction]] = defaultdict(list)
        for check in checks:
            for contradiction in check.contradictions:
                found[contradiction.question_id].append(contradiction)
        offline = {c.question_id: c for c in self.offline.contradictions}
        out: list[Contradiction] = []
        described_offline = 0
        for qid, contradiction in offline.items():
            if found[qid]:
                out.append(_combine(found[qid]))
            else:
                out.append(contradiction.model_copy(deep=True))
                described_offline += 1
        beyond = [qid for qid in self.results if found[qid] and qid not in offline]
        beyond.sort(key=lambda qid: -abs(_size(self.results[qid])))
        out += [_combine(found[qid]) for qid in beyond]
        return out, described_offline, len(beyond)


# --- helpers -------------------------------------------------------------------------------


def _flat(text: str) -> str:
    """One line: an answer can never start a line of its own in the prompt."""
    return " ".join(text.split())


def _size(result: QuestionResult) -> float:
    """How far apart the sides are: the effect size, or the gap when there is none."""
    if result.effect_size is not None:
        return result.effect_size
    return (result.gap or 0.0) / 4  # a gap on the 1-5 scale, as a share of its width


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


def _words_of(question_ids: Any, results: dict[str, QuestionResult]) -> list[str]:
    """The words of the questions themselves: they never tell one theme from another."""
    return [
        w
        for qid in question_ids
        for w in re.findall(r"[a-z][a-z'-]+", results[qid].question.lower())
    ]


def _interleaved(answers: list[AnswerRecord]) -> list[AnswerRecord]:
    """A question's answers with the two sides interleaved in proportion, so any run of them
    (a batch of a question too big for one) holds both sides."""
    sides = {role: [a for a in answers if a.role == role] for role in ROLES}
    keyed = [
        ((i + 0.5) / len(side), ROLES.index(role), answer)
        for role, side in sides.items()
        for i, answer in enumerate(side)
    ]
    return [answer for *_, answer in sorted(keyed, key=lambda k: (k[0], k[1]))]


_TAG = re.compile(r"<(/?\s*[A-Za-z]+\s*)>")


def _answer_text(answer: AnswerRecord) -> str:
    """The answer as sent: on one line, cut when very long, and with anything shaped like a
    tag (`</answers>`) defused, so no answer can close the data block. Such answers are
    flagged as injection anyway; this is the second lock."""
    text = _flat(answer.text)
    text = text if len(text) <= MAX_ANSWER_CHARS else excerpt(text, MAX_ANSWER_CHARS)
    return _TAG.sub(r"‹\1›", text)


def _line_tokens(answer: AnswerRecord, number: int) -> int:
    return estimate_tokens(f"A{number}: {_answer_text(answer)}\n")


def _answer_block(batch: Batch) -> str:
    """`Q2 frontline:` headings, then `A7: text` lines."""
    lines: list[str] = []
    heading = None
    for alias, answer in batch.answers.items():
        group = (answer.question_id, answer.role)
        if group != heading:
            question = next(q for q, real in batch.question_ids.items() if real == group[0])
            lines.append(f"{question} {answer.role}:")
            heading = group
        lines.append(f"{alias}: {_answer_text(answer)}")
    return "\n".join(lines)


def _prompt_tokens(prompt: Any, values: dict[str, str]) -> int:
    return sum(estimate_tokens(m.content) + 4 for m in prompt.format_messages(**values))


def _theme_line(alias: str, theme: GroundedTheme) -> str:
    keywords = ", ".join(theme.keywords)
    return f"{alias} ({len(theme.answer_ids)} answers): {theme.title}. {theme.summary} [{keywords}]"


def _theme_block(themes: list[GroundedTheme]) -> str:
    return "\n".join(_theme_line(f"T{i}", t) for i, t in enumerate(themes, start=1))


def _pack(themes: list[GroundedTheme], budget: int) -> list[list[GroundedTheme]]:
    groups: list[list[GroundedTheme]] = [[]]
    used = 0
    for theme in themes:
        cost = estimate_tokens(_theme_line(f"T{len(groups[-1]) + 1}", theme)) + 1
        if groups[-1] and used + cost > budget:
            groups.append([])
            used = 0
        groups[-1].append(theme)
        used += cost
    return groups


def _combine(found: list[Contradiction]) -> Contradiction:
    """One contradiction per question from the batches that described it."""
    best = max(found, key=lambda c: len(c.executive_quotes) + len(c.frontline_quotes))
    sides: dict[str, list[Quote]] = {"executive": [], "frontline": []}
    for contradiction in [best] + [c for c in found if c is not best]:
        for role, quotes in (
            ("executive", contradiction.executive_quotes),
            ("frontline", contradiction.frontline_quotes),
        ):
            for quote in quotes:
                if len(sides[role]) < QUOTES_PER_SIDE and all(
                    q.answer_id != quote.answer_id for q in sides[role]
                ):
                    sides[role].append(quote)
    return Contradiction(
        question_id=best.question_id,
        summary=best.summary,
        executive_quotes=sides["executive"],
        frontline_quotes=sides["frontline"],
    )
