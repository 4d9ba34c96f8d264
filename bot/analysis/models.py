"""The analysis engine's data: answers in, an `Analysis` out.

These models are the contract between the core (which gathers answers from the
store), the `analyse` command (which reads CSV/JSONL exports) and the engines
(offline and LLM). `Analysis.model_dump()` is exactly the JSON that
`run_bot.py analyse --json` prints: keys may be added, never renamed.

Anonymity: an answer carries no person. `role`, `team` and `round` are the only
grouping facts, and the engine never outputs a quote, mean or count for a
question × role group with fewer answers than `min_group_size`. Customers are a
third role (`customer`), under the same floor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Self

from pydantic import BaseModel, Field, PrivateAttr, computed_field

from bot.core.replies import counted

if TYPE_CHECKING:
    from bot.core.domain import Question

Role = Literal["executive", "frontline"]
ROLES: tuple[Role, Role] = ("executive", "frontline")
#: Who an answer comes from: the two staff sides, or a customer (see `bot.analysis.customers`).
Voice = Literal["executive", "frontline", "customer"]


class AnswerRecord(BaseModel):
    """One answer as the engine sees it: no person, only aggregate facts."""

    id: str
    question_id: str
    question: str
    role: Voice
    rating: int | None = Field(default=None, ge=1, le=5)
    text: str = ""
    team: str | None = None
    round: str | None = None
    #: An executive's or frontline answer's second rating: what they think customers
    #: would answer, 1-5 (None: not given).
    customer_prediction: int | None = Field(default=None, ge=1, le=5)


class QuestionInfo(BaseModel):
    """What the engine may know about a question beyond its text: the labelled ends
    of its 1-5 scale (used to infer a stance from text-only answers), its theme, and
    its free-text follow-up (`why`, the root of "what to ask next")."""

    id: str
    text: str
    low_label: str | None = None
    high_label: str | None = None
    theme: str | None = None
    why: str | None = None

    @classmethod
    def of(cls, question: Question, *, id: str | None = None, text: str | None = None) -> Self:
        """What the engine may know of a bank or round question, under the id and text
        its answers carry (the question's own unless given)."""
        return cls(
            id=question.id if id is None else id,
            text=question.text if text is None else text,
            low_label=question.low_label,
            high_label=question.high_label,
            theme=question.theme,
            why=question.why_prompt,
        )


class SideFigures(BaseModel):
    n: int
    mean_rating: float | None = None
    # Optional detail; absent or None when the side is under the floor.
    n_rated: int | None = None
    spread: float | None = None
    stance: float | None = None  # inferred -1..1 from text, when there are no ratings
    #: The side's mean position on the 1-5 scale as compared: its ratings, or with a
    #: text basis the ratings and text stances together. The gap is exactly the
    #: difference of the two positions.
    position: float | None = None


Verdict = Literal["contradict", "differ", "agree", "not compared", "hidden"]


#: Two sides that agree, both at or under this position on the 1-5 scale (half a point
#: under its middle), agree that the company falls short there.
SHORTFALL = 2.5


class QuestionResult(BaseModel):
    """One question's two sides compared.

    The verdict follows from the figures, never against them: `contradict` when the
    difference is significant, large enough, and the sides sit on opposite sides of
    the scale's midpoint; `differ` when it is significant but not that; `agree` when
    it is not significant."""

    question_id: str
    question: str
    suppressed: bool
    diverges: bool
    #: Executive minus frontline, on the 1-5 scale: exactly the difference of the two
    #: side means shown (ratings, or text stances mapped to 1-5).
    gap: float | None = None
    executive: SideFigures
    frontline: SideFigures
    #: Significance of the difference: Mann-Whitney U on ratings; for text, a
    #: permutation test on the difference of the mean positions read from the words.
    p_value: float | None = None
    basis: Literal["ratings", "text", "none"] = "none"
    note: str = ""
    #: Cliff's delta, executive over frontline, -1..1: the same measure for ratings
    #: and text, so contradictions rank together.
    effect_size: float | None = None
    #: Text: whether the sides talk about different things, a permutation p-value on
    #: their embedding centroids (reported beside the verdict, not part of it).
    meaning_p_value: float | None = None
    verdict: Verdict = "not compared"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def falls_short(self) -> bool:
        """Whether the two sides agree the company falls short here: they agree, and both
        sit at or under `SHORTFALL`. Agreement that is news, said on the first screen."""
        executive, frontline = self.executive.position, self.frontline.position
        if self.verdict != "agree" or executive is None or frontline is None:
            return False
        return max(executive, frontline) <= SHORTFALL

    def gap_as_shown(self) -> float | None:
        """The gap between the two sides' positions as printed (one decimal each), so a
        report never shows +2.5 next to 4.2 and 1.6."""
        executive, frontline = self.executive.position, self.frontline.position
        if self.gap is None or executive is None or frontline is None:
            return self.gap
        return round(round(executive, 1) - round(frontline, 1), 1)

    #: The customers' side: None when no customer answered; n 0 when under the floor.
    customers: SideFigures | None = None
    #: What each side thinks customers would answer (their optional second rating):
    #: None when nobody on that side gave one; n 0 when under the floor.
    executive_prediction: SideFigures | None = None
    frontline_prediction: SideFigures | None = None


class Quote(BaseModel):
    answer_id: str
    text: str
    role: Role | None = None  # the side that wrote it, when the engine says so


class Theme(BaseModel):
    title: str
    keywords: list[str]
    answer_ids: list[str]
    #: Answers per side; None when that side gave some, but fewer than the anonymity
    #: floor (a count that small is never shown).
    executive: int | None
    frontline: int | None
    question_id: str | None = None  # None: a theme across the whole round
    quotes: list[Quote] = []
    #: "both", or the one side that raised it: a blind spot of the other side.
    raised_by: Literal["both", "executive", "frontline"] = "both"
    summary: str = ""  # one sentence, when the LLM engine wrote the theme


class Contradiction(BaseModel):
    question_id: str
    summary: str
    executive_quotes: list[Quote]
    frontline_quotes: list[Quote]
    #: What each side says, in a few words (the "Executives believe …; the frontline
    #: sees …" of the summary); the ends of the follow-up question's scale.
    executive_claim: str = ""
    frontline_claim: str = ""


class FollowUp(BaseModel):
    """What to ask next, for the next round or the next all-hands."""

    question_id: str
    text: str
    #: The follow-up as a question for the next round (`/integrity follow-up N`): rated
    #: from `low` to `high`, the two sides' claims, then `why` in the person's own words.
    ask: str = ""
    low: str = ""
    high: str = ""
    why: str = ""


class Flag(BaseModel):
    answer_id: str
    reason: str


class RealityGap(BaseModel):
    """Where executives' belief is far from what customers say about the same question."""

    question_id: str
    summary: str
    executive: float  # mean rating, 1-5
    customers: float
    frontline: float | None = None
    gap: float  # executive minus customers
    #: Whose view customers bear out: the side closer to them, or "neither" when both are
    #: about as far.
    closest: Literal["executive", "frontline", "neither"] = "neither"
    customer_quotes: list[Quote] = []
    #: What executives predicted customers would answer, when enough of them said.
    executive_prediction: float | None = None


class Predictions(BaseModel):
    """Who knows the customer best: how far each side's prediction of customers was from
    what customers said, on average over the questions where both are known."""

    questions: int
    executive_error: float | None = None  # mean absolute distance, 1-5 scale
    frontline_error: float | None = None
    closest: Literal["executive", "frontline", "neither"] | None = None  # None: no customers


class HiddenGroup(BaseModel):
    """A group kept out of the output by the anonymity floor. No count is given
    beyond 'fewer than the floor', so even its size stays private."""

    question_id: str
    role: Voice
    reason: str


class Analysis(BaseModel):
    engine: str  # "offline" or "llm:<model>"
    min_group_size: int
    questions: list[QuestionResult]
    themes: list[Theme]
    contradictions: list[Contradiction]
    flagged: list[Flag]
    hidden: list[HiddenGroup] = []
    notes: list[str] = []  # e.g. "LLM output failed verification; offline result shown"
    answers_analysed: int = 0
    #: What to ask next, one per contradiction (widest first), then per difference.
    follow_ups: list[FollowUp] = []
    #: Questions where executives' belief is far from what customers say, widest first.
    reality_gaps: list[RealityGap] = []
    #: Whose predictions of customers came closest, when anyone predicted.
    predictions: Predictions | None = None
    #: The offline engine's embedded texts, handed to the LLM engine to place the same
    #: answers without reading them again (`bot.analysis.offline.theme_vectors`). Never
    #: serialised, and taken off before the analysis leaves `bot.analysis.engine`.
    _placed: object = PrivateAttr(default=None)

    @property
    def placed(self) -> object:
        return self._placed

    @placed.setter
    def placed(self, space: object) -> None:
        self._placed = space


class Progress(BaseModel):
    """How far a long analysis has got, for a status line ("Analysing… 120 of 340 answers").

    The LLM engine reports it through the `progress` callback of `analyse()` after each call:
    `step` is "reading" (units are answers) or "merging" (units are calls)."""

    step: Literal["reading", "merging"]
    done: int
    total: int

    def __str__(self) -> str:
        if self.step == "reading":
            return f"The model has read {self.done} of {counted(self.total, 'answer')}"
        return f"Merging the themes: {self.done} of {counted(self.total, 'call')} done"
