"""The LLM analysis engine: any LangChain chat model writes the narrative, the
offline engine supplies the facts, and the verifier keeps only grounded claims.

Switched on by `INTEGRITY_LLM`, a LangChain `provider:model` string given to
`init_chat_model`: `openai:gpt-4o-mini` (with `OPENAI_API_KEY`), the same with
`OPENAI_BASE_URL` for any OpenAI-compatible server (llama.cpp, vLLM, Ollama, LM
Studio; no key needed there), `azure_openai:…`, `ollama:…` (with its LangChain
package installed).

How a round is analysed (`analyse_with_llm`):

1. **What is sent.** Only answers with text, from groups at or above the
   anonymity floor, that were not flagged as prompt injection or junk. An answer
   goes under a short id that is only meaningful in its batch (`A12`); questions go
   as `Q3`. No person id, name, team or real answer id is ever sent. Answers sit
   between `<answers>` tags, marked as data in the system prompt; line breaks
   inside an answer are flattened so it cannot forge another answer's line.
2. **Map.** Answers are packed, by question and role, into batches that fit the
   context (`INTEGRITY_LLM_CONTEXT` tokens, default 16384, counted with the
   conservative offline estimate of `bot.analysis.tokens`, minus the reply's
   `OUTPUT_TOKENS` and a tenth as headroom), so each answer is read once and no
   call exceeds the context. Each batch gets the offline figures of its questions
   (counts, means, gap, significance, whether the sides disagree) as facts, and
   replies with themes and contradictions in a Pydantic schema (structured output).
3. **Verify** each reply (`bot.analysis.verify`): ungrounded claims are dropped.
4. **Reduce.** When there was more than one batch, the batches' themes are merged
   by the model (in as many rounds as the context needs); merged themes can only
   point at batch themes, so their answers and quotes stay verified ones.
5. **Result.** Verified themes (counts per side computed here, not by the model),
   the verified contradictions, and for any question the figures call a
   contradiction that the model did not describe, the offline engine's one. The
   per-question figures, flags and hidden groups are the offline engine's.

Fallback: if any call fails (after the client's retries), or fewer than half of
the model's claims survive verification, or no theme survives where the offline
engine found some, the offline result is returned with a note saying so.
"""

from __future__ import annotations

import logging
import os
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field

from bot.analysis.models import (
    ROLES,
    Analysis,
    AnswerRecord,
    Contradiction,
    QuestionInfo,
    QuestionResult,
    Quote,
    Theme,
)
from bot.analysis.offline import excerpt
from bot.analysis.tokens import estimate_tokens
from bot.analysis.verify import Batch, GroundedTheme, Verified, grounded_keywords, verify_findings
from bot.core.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_CONTEXT_TOKENS = 16384
MIN_CONTEXT_TOKENS = 2048
#: Room kept for the model's reply in every call.
OUTPUT_TOKENS = 1536
#: Share of the context a call may fill, against an estimate that is itself generous.
HEADROOM = 0.9
THEMES_PER_BATCH = 6
MAX_CONTRADICTIONS_PER_BATCH = 8
#: A theme cites at most this many answers of its batch (its counts are of those).
MAX_IDS_PER_THEME = 150
MAX_THEMES = 10
QUOTES_PER_SIDE = 3
#: A claim survives verification at this rate or better, or the offline result is shown.
MIN_SURVIVAL = 0.5
CONCURRENCY = 4
#: Answers longer than this many characters are cut (at a sentence end) for the model.
MAX_ANSWER_CHARS = 1200
#: What a `Q12 executive:` heading line costs, at most.
HEADING_TOKENS = 8
EXAMPLE = "openai:gpt-4o-mini"


# --- what the model returns --------------------------------------------------------------


def _bounded(kind: Any, limit: int) -> Any:
    """`kind` (str or a list) with at most `limit` characters or items: announced in the
    schema (maxLength/maxItems), so a grammar-constrained model (llama.cpp) or a strict
    schema must close its reply within it, and cut to it when a model runs over anyway,
    rather than losing the whole reply to one long list. The fields carry no descriptions:
    the system prompt explains them once, and the schema is sent with every call."""
    key = "maxLength" if kind is str else "maxItems"
    cut = BeforeValidator(lambda value: value[:limit] if isinstance(value, str | list) else value)
    return Annotated[kind, cut, Field(json_schema_extra={key: limit})]


class CitedQuote(BaseModel):
    answer_id: _bounded(str, 12)
    text: _bounded(str, 400)


class FoundTheme(BaseModel):
    title: _bounded(str, 100)
    summary: _bounded(str, 400)
    keywords: _bounded(list[str], 5)
    answer_ids: _bounded(list[str], MAX_IDS_PER_THEME)
    quotes: _bounded(list[CitedQuote], 3)


class FoundContradiction(BaseModel):
    question_id: _bounded(str, 12)
    summary: _bounded(str, 400)
    executive_quotes: _bounded(list[CitedQuote], 3)
    frontline_quotes: _bounded(list[CitedQuote], 3)


class BatchFindings(BaseModel):
    """Themes and contradictions in one batch of answers."""

    themes: _bounded(list[FoundTheme], THEMES_PER_BATCH)
    contradictions: _bounded(list[FoundContradiction], MAX_CONTRADICTIONS_PER_BATCH)


class MergedTheme(BaseModel):
    title: _bounded(str, 100)
    summary: _bounded(str, 400)
    keywords: _bounded(list[str], 5)
    theme_ids: _bounded(list[str], 200)


class MergedThemes(BaseModel):
    """The batches' themes merged into one list."""

    themes: _bounded(list[MergedTheme], MAX_THEMES)


# --- configuration ------------------------------------------------------------------------


@dataclass(frozen=True)
class LLMSettings:
    context_tokens: int = DEFAULT_CONTEXT_TOKENS

    @property
    def output_tokens(self) -> int:
        """Room kept for the model's reply: `OUTPUT_TOKENS`, or a quarter of a small context."""
        return min(OUTPUT_TOKENS, self.context_tokens // 4)

    @property
    def prompt_budget(self) -> int:
        """What one call's prompt may fill, by the estimate."""
        return int(self.context_tokens * HEADROOM) - self.output_tokens

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LLMSettings:
        env = os.environ if env is None else env
        raw = (env.get("INTEGRITY_LLM_CONTEXT") or "").strip()
        if not raw:
            return cls()
        if not raw.isdigit() or int(raw) < MIN_CONTEXT_TOKENS:
            raise ConfigError(
                f"INTEGRITY_LLM_CONTEXT is {raw!r}: set it to the model's context window in "
                f"tokens, {MIN_CONTEXT_TOKENS} or more (e.g. 8192), or unset it."
            )
        return cls(context_tokens=int(raw))


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
    settings = LLMSettings.from_env(env)  # a bad context setting fails now, not in a summary
    kwargs: dict[str, Any] = {"temperature": 0}
    if provider in ("openai", "azure_openai"):
        kwargs |= {"timeout": 120, "max_retries": 2, "max_tokens": settings.output_tokens}
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
    """The model could not give a usable result; the message says why."""


def analyse_with_llm(
    answers: Sequence[AnswerRecord],
    *,
    offline: Analysis,
    llm: Any,
    min_group: int,
    questions: Sequence[QuestionInfo] = (),
    settings: LLMSettings | None = None,
) -> Analysis:
    """The round analysed by `llm`, grounded by `offline`; `offline` itself on failure."""
    settings = settings or LLMSettings.from_env()
    run = _Run(offline, llm, settings)
    try:
        return run.analyse(answers)
    except _Failed as failure:
        logger.warning("LLM analysis fell back to the offline engine: %s", failure)
        fallback = offline.model_copy(deep=True)
        fallback.notes.append(f"{failure} This is the offline engine's result.")
        return fallback


class _Run:
    """One analysis with the model: batches, calls, verification, merge."""

    def __init__(self, offline: Analysis, llm: Any, settings: LLMSettings) -> None:
        from bot.core.prompts import chat_prompt

        self.offline = offline
        self.llm = llm
        self.label = model_label(llm)
        self.settings = settings
        self.results = {q.question_id: q for q in offline.questions}
        self.aliases = {q.question_id: f"Q{i}" for i, q in enumerate(offline.questions, start=1)}
        self.map_prompt = chat_prompt("map", {"max_themes", "facts", "answers"})
        self.reduce_prompt = chat_prompt("reduce", {"max_themes", "themes"})
        self.calls = 0

    # -- the whole run ----------------------------------------------------------------------

    def analyse(self, answers: Sequence[AnswerRecord]) -> Analysis:
        sendable = self.sendable(answers)
        if not sendable:
            raise _Failed("No answer had text the model could read (after the floor and flags).")
        batches = self.batches(sendable)
        replies = self.call_all(
            self.map_prompt,
            BatchFindings,
            [self.map_inputs(batch) for batch in batches],
        )
        checks = [
            verify_findings(reply, batch, self.results)
            for reply, batch in zip(replies, batches, strict=True)
        ]
        proposed = sum(c.proposed for c in checks)
        dropped = sum(len(c.dropped) for c in checks)
        kept = sum(len(c.themes) + len(c.contradictions) for c in checks)
        if proposed and kept / proposed < MIN_SURVIVAL:
            raise _Failed(
                f"The model's output failed verification: {kept} of {proposed} claims were "
                "grounded in the answers."
            )
        grounded = [theme for check in checks for theme in check.themes]
        if not grounded and self.offline.themes:
            raise _Failed("No theme from the model was grounded in the answers.")
        themes = self.merge(grounded) if len(batches) > 1 else grounded
        by_id = {a.id: a for a in sendable}
        result = self.offline.model_copy(deep=True)
        result.engine = f"llm:{self.label}"
        result.themes = self.to_themes(themes, by_id)
        result.contradictions, described_offline = self.contradictions(checks)
        result.notes.append(
            f"Written by {self.label} from {len(sendable)} answer(s) in {self.calls} call(s); "
            "answers of groups under the floor, flagged answers and names were never sent."
        )
        if dropped:
            result.notes.append(
                f"{dropped} claim(s) from the model were not grounded in the answers and were "
                "left out."
            )
        if described_offline:
            result.notes.append(
                f"{described_offline} contradiction(s) the figures show were not described by the "
                "model; the offline engine's description and quotes are shown for them."
            )
        return result

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
            return line + " | not enough scored answers to compare"
        verdict = "the sides disagree" if result.diverges else "no contradiction in the figures"
        return line + f" | gap {result.gap:+.2f} (p={result.p_value:.2g}) | {verdict}"

    def map_inputs(self, batch: Batch) -> dict[str, str]:
        return {
            "max_themes": str(THEMES_PER_BATCH),
            "facts": self.facts(list(batch.question_ids.values())),
            "answers": _answer_block(batch),
        }

    def batches(self, sendable: list[AnswerRecord]) -> list[Batch]:
        """Answers packed by question and role into batches that fit the context."""
        every_fact = self.facts(list(self.results))
        fixed = _prompt_tokens(
            self.map_prompt, {"max_themes": "6", "facts": every_fact, "answers": ""}
        )
        budget = self.settings.prompt_budget - fixed  # for the answer lines themselves
        if budget < 200:
            raise _Failed(
                f"INTEGRITY_LLM_CONTEXT ({self.settings.context_tokens}) leaves no room for "
                "answers; set it to the model's real context window."
            )
        order = {qid: i for i, qid in enumerate(self.results)}
        ordered = sorted(sendable, key=lambda a: (order.get(a.question_id, 0), ROLES.index(a.role)))
        batches: list[Batch] = []
        current: list[AnswerRecord] = []
        used = 0
        for answer in ordered:
            cost = _line_tokens(answer, len(current) + 1)
            if not current or (current[-1].question_id, current[-1].role) != (
                answer.question_id,
                answer.role,
            ):
                cost += HEADING_TOKENS
            if current and used + cost > budget:
                batches.append(self.batch(current))
                current, used = [], HEADING_TOKENS
            current.append(answer)
            used += cost
        if current:
            batches.append(self.batch(current))
        return batches

    def batch(self, answers: list[AnswerRecord]) -> Batch:
        question_ids = {
            self.aliases[a.question_id]: a.question_id for a in answers
        }  # in the batch's order
        return Batch(
            answers={f"A{i}": a for i, a in enumerate(answers, start=1)},
            question_ids=question_ids,
        )

    # -- calling the model ------------------------------------------------------------------

    def call_all(self, prompt: Any, schema: type[BaseModel], inputs: list[dict]) -> list[Any]:
        """One structured call per input, a few at a time; any failure fails the run."""
        chain = prompt | self.llm.with_structured_output(schema, include_raw=True)
        self.calls += len(inputs)
        outputs = chain.batch(
            inputs, config={"max_concurrency": CONCURRENCY}, return_exceptions=True
        )
        parsed = []
        for output in outputs:
            if isinstance(output, Exception):
                raise _Failed(
                    f"The model {self.label} could not be used ({type(output).__name__}: "
                    f"{_first_line(output)})."
                )
            if output.get("parsing_error") is not None or output.get("parsed") is None:
                raise _Failed(
                    f"The model {self.label} did not reply in the expected shape "
                    f"({_first_line(output.get('parsing_error') or 'no structured reply')})."
                )
            value = output["parsed"]
            parsed.append(value if isinstance(value, schema) else schema.model_validate(value))
        return parsed

    # -- merging themes across batches ------------------------------------------------------

    def merge(self, themes: list[GroundedTheme]) -> list[GroundedTheme]:
        """Merge the batches' themes with the model until one call holds them all."""
        budget = self.settings.prompt_budget - _prompt_tokens(
            self.reduce_prompt, {"max_themes": "10", "themes": ""}
        )
        while True:
            groups = _pack(themes, budget)
            replies = self.call_all(
                self.reduce_prompt,
                MergedThemes,
                [{"max_themes": str(MAX_THEMES), "themes": _theme_block(g)} for g in groups],
            )
            merged = [t for g, r in zip(groups, replies, strict=True) for t in _merged(g, r)]
            if len(groups) == 1 or len(merged) >= len(themes):
                return merged
            themes = merged

    def to_themes(self, themes: list[GroundedTheme], by_id: dict[str, AnswerRecord]) -> list[Theme]:
        answered = {(a.question_id, a.role) for a in by_id.values()}
        out: list[Theme] = []
        for theme in themes:
            members = [by_id[i] for i in theme.answer_ids if i in by_id]
            counts = {role: sum(1 for a in members if a.role == role) for role in ROLES}
            asked = {a.question_id for a in members}
            raised_by = "both"
            for role, other in (("executive", "frontline"), ("frontline", "executive")):
                if counts[other] == 0 and any((q, other) in answered for q in asked):
                    raised_by = role
            out.append(
                Theme(
                    title=theme.title,
                    summary=theme.summary,
                    keywords=theme.keywords,
                    answer_ids=theme.answer_ids,
                    executive=counts["executive"],
                    frontline=counts["frontline"],
                    question_id=next(iter(asked)) if len(asked) == 1 else None,
                    quotes=theme.quotes,
                    raised_by=raised_by,
                )
            )
        out.sort(key=lambda t: -(t.executive + t.frontline))
        return out[:MAX_THEMES]

    # -- contradictions ---------------------------------------------------------------------

    def contradictions(self, checks: list[Verified]) -> tuple[list[Contradiction], int]:
        """The model's verified contradictions, one per question, in the round's order; the
        offline one for a diverging question the model did not describe."""
        found: dict[str, list[Contradiction]] = defaultdict(list)
        for check in checks:
            for contradiction in check.contradictions:
                found[contradiction.question_id].append(contradiction)
        offline = {c.question_id: c for c in self.offline.contradictions}
        out: list[Contradiction] = []
        described_offline = 0
        for qid in self.results:
            if found[qid]:
                out.append(_combine(found[qid]))
            elif qid in offline:
                out.append(offline[qid].model_copy(deep=True))
                described_offline += 1
        return out, described_offline


# --- helpers -------------------------------------------------------------------------------


def _flat(text: str) -> str:
    """One line: an answer can never start a line of its own in the prompt."""
    return " ".join(text.split())


def _first_line(error: Any) -> str:
    return (str(error).strip().splitlines() or [""])[0][:200]


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


def _merged(themes: list[GroundedTheme], reply: MergedThemes) -> list[GroundedTheme]:
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
        ids = list(dict.fromkeys(i for m in members for i in m.answer_ids))
        quotes: list[Quote] = []
        for member in sorted(members, key=lambda m: -len(m.answer_ids)):
            for quote in member.quotes:
                if len(quotes) < 2 and all(q.answer_id != quote.answer_id for q in quotes):
                    quotes.append(quote)
        member_keywords = [k for m in members for k in m.keywords]
        title = _flat(merged.title)[:80] or members[0].title
        out.append(
            GroundedTheme(
                title=title,
                summary=_flat(merged.summary) or members[0].summary,
                # the merged keywords must occur in the members' own (grounded) keywords
                keywords=grounded_keywords(merged.keywords, member_keywords) or member_keywords[:5],
                answer_ids=ids,
                quotes=quotes,
            )
        )
    out += [t for alias, t in by_alias.items() if alias not in used]
    return out


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
