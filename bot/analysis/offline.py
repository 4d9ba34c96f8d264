"""The offline analysis engine: deterministic, no network, no LLM.

`analyse_offline` turns a round's answers into an `Analysis`, in this order:

1. **Anonymity floor first.** A group is question × role. A group with fewer
   answers than the floor is dropped before anything else looks at it: its answers
   feed no theme, quote, count or mean, and it is listed in `hidden` with no count.
   Its question is `suppressed`, with no figures for that side and no contradiction.
   The floor is `bot.core.anonymity.Floor`, the core's one rule: a floor under 3
   is refused (`ValueError`), the product never allows one.
2. **Flags.** Answers that look like prompt injection (`bot.analysis.injection`), junk
   (`bot.analysis.junk`) or off the subject (`bot.analysis.offtopic`: the staff car
   park, once the answer's words are embedded) still count toward n, but are never
   read for stance, quoted, or made to stand for a theme.
3. **Per question, the two sides.** n, mean rating, spread (sample sd), n_rated, and
   the gap (executive − frontline). The basis is `ratings` when each side has at
   least 3 ratings and no answer is in words alone; otherwise `text`, where each
   answer's position is its rating or, when it has none, is read from its words by
   the stance head (`bot.analysis.stance`: a trained reader over the
   sentence embedding, its relation to the question's two labelled ends, and
   sentiment and phrases), mapped to 1-5 as 3 + 2 × stance. Significance: for
   ratings a two-sided Mann-Whitney U test; for positions read from words, which are
   measurements rather than ordinal ratings, a permutation test on the difference of
   the sides' means. Either way the effect size is Cliff's delta, so text and rated
   questions rank together. For text, a permutation test on the sides' embedding
   centroids says, besides, whether they talk about different things
   (`meaning_p_value`): reported, not required, since two sides can say opposite
   things about the same subject.
4. **Divergence rule (deliberately demanding).** A question `diverges` when both
   sides are above the floor with at least 3 scored answers each, p < 0.05, the
   effect is at least medium (|Cliff's delta| ≥ 0.33), and the two side means fall on
   opposite sides of the scale's midpoint 3 (one may sit exactly on it). Two sides
   that are both negative (or both positive) never diverge, however far apart: that
   is a difference of degree, not a contradiction.
5. **Themes.** Answer texts are embedded once (unique texts only), grouped within
   each question, in the theme metric learned from the corpus's gold themes
   (`bot.analysis.grouping`) beside how a paraphrase encoder places them (in the
   rounds the sentence encoder reads), by average-linkage clustering (the number of
   themes by silhouette, at most one per four answers, on a fixed-seed sample of at
   most 1,000 texts, then every text joins its nearest theme: linear in the number of
   answers), merged across questions only when nearly the same, labelled with c-TF-IDF
   keywords, and quoted by the answers nearest the centroid. A theme raised by one side
   only, when the other side did answer those questions, is a blind spot (`raised_by`).
6. **Contradictions.** For each diverging question, a plain one-line summary and
   the strongest verbatim quotes from each side, taken in that side's direction.

Quotes are always the exact answer text, or an exact leading part of it cut at a
sentence boundary when the answer is long.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from bot.analysis.embeddings import (
    Embedder,
    default_embedder,
    has_sentence_encoder,
    second_reader,
    sentence_embedder,
    word_embedder,
)
from bot.analysis.grouping import (
    MAX_THEMES_PER_QUESTION,
    MIN_THEME_ANSWERS,
    beside,
    centred,
    group_by_meaning,
    in_metric,
    metric_for,
    most_themes,
    unit,
)
from bot.analysis.injection import find_injection
from bot.analysis.junk import find_junk
from bot.analysis.models import (
    ROLES,
    Analysis,
    AnswerRecord,
    Contradiction,
    Flag,
    FollowUp,
    HiddenGroup,
    QuestionInfo,
    QuestionResult,
    Quote,
    Role,
    SideFigures,
    Theme,
)
from bot.analysis.offtopic import REASON as OFF_SUBJECT
from bot.analysis.offtopic import off_subject
from bot.analysis.quotes import MIN_QUOTE_WORDS, excerpt
from bot.analysis.stance import head_for, scale_axis, sentiment
from bot.core.anonymity import Floor

ENGINE = "offline"
#: A contradiction needs a difference significant at this level...
MAX_P = 0.05
#: ...and at least a medium effect: Cliff's delta of this size (|delta| is 0.33 when
#: two answers from opposite sides are ordered one way a third more often than the other).
MIN_EFFECT = 0.33
#: Shuffles in the text questions' permutation tests, and the most answers they read.
PERMUTATIONS = 999
MEANING_SAMPLE = 2000
#: In a round read by word vectors, the sentence encoder reads this many answers a side
#: (at most) of a question judged on its words.
STANCE_SAMPLE = 150
#: Each side needs at least this many scored answers before it is compared at all.
MIN_SCORED = 3
MIDPOINT = 3.0
#: A side's mean rating closer than this to the midpoint leans to an end of the scale;
#: it does not believe it.
MILD = 0.75
#: Weight of VADER sentiment against scale-label similarity when inferring a stance
#: with an embedder that has no trained stance head (`bot.analysis.stance`).
SENTIMENT_WEIGHT = 0.4
#: The share of a question's common lean toward one label taken off each answer.
LABEL_CENTRING = 0.5
#: A similarity difference (high label − low label) this large counts as a full stance.
LABEL_SIMILARITY_SPAN = 0.3
SEED = 20240601
#: Themes of different questions are merged when their centroids are this close.
MERGE_SIMILARITY = 0.95
KEYWORDS_PER_THEME = 5
QUOTES_PER_THEME = 2
QUOTES_PER_SIDE = 3
#: c-TF-IDF reads at most this many texts per cluster (the ones nearest its centroid).
KEYWORD_TEXTS_PER_CLUSTER = 300
#: A contradiction's quotes are chosen among at most this many answers of a side.
QUOTE_CANDIDATES = 500


def analyse_offline(
    answers: Sequence[AnswerRecord],
    *,
    min_group: int,
    questions: Sequence[QuestionInfo] = (),
    embedder: Embedder | None = None,
    withheld: Sequence[HiddenGroup] = (),
) -> Analysis:
    """Analyse a round's answers offline: sides, gaps, themes, contradictions, flags.

    `withheld`: question × role sides the core already kept back under the floor (their
    answers are not in `answers`); they are hidden exactly like a small group here."""
    floor = Floor(min_group)  # refuses a floor under 3
    answers = list(answers)
    kept, hidden = _apply_floor(answers, floor)
    hidden += [
        h
        for h in withheld
        if (h.question_id, h.role) not in {(g.question_id, g.role) for g in hidden}
    ]
    infos = {q.id: q for q in questions}
    flags = _flags(kept)
    flagged = {f.answer_id for f in flags}
    usable = [a for a in kept if a.text.strip() and a.id not in flagged]

    chosen = embedder or default_embedder(len({a.text for a in usable}))
    space = _TextSpace.build(usable, chosen)
    # An answer off the subject (the staff car park) is flagged like junk, now that its
    # words are read: it counts toward its side but never stands for it.
    off = off_subject(
        ((a.question_id, a.text) for a in usable), space.rows_of, getattr(chosen, "name", "")
    )
    if off:
        flags += [
            Flag(answer_id=a.id, reason=OFF_SUBJECT)
            for a in usable
            if (a.question_id, a.text) in off
        ]
        flagged = {f.answer_id for f in flags}
        usable = [a for a in usable if a.id not in flagged]
    # A round too large for the sentence encoder still has it read a sample of the
    # answers that are judged on their words alone.
    finer = embedder is None and chosen is word_embedder() and has_sentence_encoder()
    reader = sentence_embedder() if finer else None
    scorer = _StanceScorer(space, chosen, infos, reader=reader)

    hidden_sides = {(h.question_id, h.role): h.reason for h in hidden}
    by_question: dict[str, list[AnswerRecord]] = defaultdict(list)
    question_text: dict[str, str] = {}
    for a in answers:  # every question appears, even one whose answers are all hidden
        question_text.setdefault(a.question_id, a.question)
    for h in hidden:
        question_text.setdefault(
            h.question_id, infos[h.question_id].text if h.question_id in infos else h.question_id
        )
    for a in kept:
        by_question[a.question_id].append(a)
    for qid, group in by_question.items():
        worded = [a for a in group if a.id not in flagged and a.text.strip()]
        scorer.centre(qid, worded)
        rated = Counter(a.role for a in group if a.rating is not None)
        if any(rated[role] < MIN_SCORED for role in ROLES):  # judged on its words
            scorer.read_sample(qid, [a for a in worded if a.rating is None])

    results: list[QuestionResult] = []
    scores: dict[str, dict[str, float]] = {}
    for qid, text in question_text.items():
        result, scores[qid] = _question_result(
            qid, text, by_question.get(qid, []), hidden_sides, flagged, scorer, min_group
        )
        results.append(result)

    themes = _themes(usable, space, question_text, min_group, scorer)
    contradictions = [
        _contradiction(
            result,
            by_question[result.question_id],
            scores[result.question_id],
            flagged,
            space,
            scorer,
            themes,
            infos.get(result.question_id),
        )
        for result in results  # in the round's order; the report ranks them by effect
        if result.diverges
    ]
    analysis = Analysis(
        engine=ENGINE,
        min_group_size=floor.size,
        questions=results,
        themes=themes,
        contradictions=contradictions,
        flagged=flags,
        hidden=hidden,
        notes=_notes(results),
        answers_analysed=len(kept),
        follow_ups=follow_ups(results, themes, infos, contradictions),
    )
    analysis.placed = space
    return analysis


def ranked(results: Iterable[QuestionResult]) -> list[QuestionResult]:
    """Questions by the size of the difference between the sides, the widest first."""
    return sorted(results, key=effect_order)


def shortfalls(results: Iterable[QuestionResult]) -> list[QuestionResult]:
    """The questions both sides agree we fall short on (`QuestionResult.falls_short`),
    lowest first."""
    return sorted(
        (r for r in results if r.falls_short and not r.suppressed),
        key=lambda r: r.executive.position + r.frontline.position,
    )


def effect_order(result: QuestionResult) -> tuple[float, float]:
    """Sort key, widest first: Cliff's delta (the same measure for ratings and text) to
    one decimal, so near-ties fall to the gap a reader sees."""
    return (-round(abs(result.effect_size or 0.0), 1), -abs(result.gap or 0.0))


# --- the anonymity floor ---------------------------------------------------------------


def _apply_floor(
    answers: list[AnswerRecord], floor: Floor
) -> tuple[list[AnswerRecord], list[HiddenGroup]]:
    kept, small = floor.apply(answers, lambda a: (a.question_id, a.role))
    reason = floor.sentence
    order = {qid: i for i, qid in enumerate(dict.fromkeys(a.question_id for a in answers))}
    hidden = [
        HiddenGroup(question_id=qid, role=role, reason=reason)
        for qid, role in sorted(small, key=lambda g: (order[g[0]], ROLES.index(g[1])))
    ]
    return kept, hidden


# --- flags -----------------------------------------------------------------------------


def _flags(kept: list[AnswerRecord]) -> list[Flag]:
    flags: list[Flag] = []
    verdicts: dict[tuple[str, bool], str | None] = {}  # many answers share a text
    for a in kept:
        key = (a.text, a.rating is not None)
        if key not in verdicts:
            verdicts[key] = find_injection(a.text) or find_junk(a.text, rated=key[1])
        reason = verdicts[key]
        if reason:
            flags.append(Flag(answer_id=a.id, reason=reason))
    return flags


# --- embeddings and stance -------------------------------------------------------------


@dataclass
class _TextSpace:
    """Unique usable texts, embedded once; answers point into it by index."""

    texts: list[str]
    vectors: np.ndarray
    index: dict[str, int]
    #: The embedder's theme metric (`bot.analysis.grouping`), None without one.
    metric: np.ndarray | None = None
    #: The same texts as the paraphrase encoder places them, a second reader for
    #: themes; None unless the sentence encoder reads the round.
    paraphrase: np.ndarray | None = None
    #: The embedder that placed them.
    embedder: Embedder | None = None

    @classmethod
    def build(cls, usable: list[AnswerRecord], embedder: Embedder) -> _TextSpace:
        texts = list(dict.fromkeys(a.text for a in usable))
        vectors = embedder.embed(texts) if texts else np.zeros((0, 1), dtype=np.float32)
        second = second_reader(embedder)
        return cls(
            texts,
            np.asarray(vectors, dtype=np.float32),
            {t: i for i, t in enumerate(texts)},
            metric_for(getattr(embedder, "name", "")),
            second.embed(texts) if second is not None and texts else None,
            embedder,
        )

    def __deepcopy__(self, memo: dict) -> _TextSpace:
        """Never changed once built: a copy of an analysis shares it (its embedder is a
        loaded model, which cannot be copied)."""
        return self

    def holds(self, texts: Iterable[str], embedder: Embedder | None) -> bool:
        """Whether these texts are all placed here, by `embedder` if one is named."""
        return (embedder is None or embedder is self.embedder) and all(
            t in self.index for t in texts
        )

    def rows(self, answers: Iterable[AnswerRecord]) -> np.ndarray:
        return np.fromiter((self.index[a.text] for a in answers), dtype=np.int64)

    def rows_of(self, texts: list[str]) -> np.ndarray:
        """The vectors of texts already in the space."""
        return self.vectors[[self.index[t] for t in texts]]

    def theme_vectors(self, rows: np.ndarray) -> np.ndarray:
        """One question's distinct texts (rows of the space) as its themes are sorted.

        The question's common ground (every answer mentions customers, the question's own
        words) is taken off, so what is left is what tells one answer from another; the
        theme metric then weighs what tells one theme from another over tone and phrasing,
        and the paraphrase encoder, beside it, knows one point made in other words."""
        vectors = in_metric(centred(self.vectors[rows]), self.metric)
        if self.paraphrase is not None:
            vectors = beside(vectors, self.paraphrase[rows])
        return vectors


def theme_vectors(
    answers: Sequence[AnswerRecord],
    embedder: Embedder | None = None,
    *,
    placed: object = None,
) -> dict[str, np.ndarray]:
    """Each answer's vector in its question's theme space (`_TextSpace.theme_vectors`), by
    answer id: the space the offline engine sorts themes in, for another engine to place
    answers in the same way. A question with a single distinct text has no common ground
    to take off; its answers keep the embedder's own vector.

    `placed`, the offline engine's texts of the same round (`Analysis.placed`): they are
    not read again when it placed them all (by `embedder`, if one is given)."""
    texts = list(dict.fromkeys(a.text for a in answers))
    space = placed
    if not isinstance(space, _TextSpace) or not space.holds(texts, embedder):
        space = _TextSpace.build(list(answers), embedder or default_embedder(len(texts)))
    by_question: dict[str, list[AnswerRecord]] = defaultdict(list)
    for a in answers:
        by_question[a.question_id].append(a)
    placed: dict[str, np.ndarray] = {}
    for group in by_question.values():
        rows = np.array(list(dict.fromkeys(space.index[a.text] for a in group)), dtype=np.int64)
        vectors = space.theme_vectors(rows) if len(rows) > 1 else unit(space.vectors[rows])
        row_of = {int(r): n for n, r in enumerate(rows.tolist())}
        placed.update({a.id: vectors[row_of[space.index[a.text]]] for a in group})
    return placed


@dataclass
class _StanceScorer:
    """Reads a stance (-1..1) from an answer's words; caches per text.

    With an embedder that has a trained head (`bot.analysis.stance`), the head reads
    it. Otherwise VADER's sentiment is blended with how much closer the answer sits to
    the question's high-end label than to its low-end one."""

    space: _TextSpace
    embedder: Embedder
    infos: dict[str, QuestionInfo]
    #: A finer embedder that reads a sample of a question's answers (`read_sample`).
    reader: Embedder | None = None
    _axes: dict[tuple[str, str], np.ndarray | None] = field(default_factory=dict)
    _offsets: dict[str, float] = field(default_factory=dict)
    _stances: dict[tuple[str, str], float] = field(default_factory=dict)
    _sampled: dict[str, set[str]] = field(default_factory=dict)

    def direction(self, question_id: str) -> np.ndarray | None:
        """The high-label minus low-label embedding of a question, when both labels are known."""
        return self._axis(self.embedder, question_id)

    def _axis(self, embedder: Embedder, question_id: str) -> np.ndarray | None:
        key = (getattr(embedder, "name", ""), question_id)
        if key not in self._axes:
            info = self.infos.get(question_id)
            if info and info.low_label and info.high_label:
                self._axes[key] = scale_axis(embedder, info.low_label, info.high_label)
            else:
                self._axes[key] = None
        return self._axes[key]

    def _read(
        self,
        embedder: Embedder,
        question_id: str,
        texts: list[str],
        vectors: np.ndarray | None = None,
    ) -> bool:
        """Read the stances of a question's texts with the embedder's trained head (the
        one for labelled ends when the question has them), embedding the texts when no
        vectors are given. False, reading nothing, when the embedder has no head."""
        read = self._head_read(embedder, question_id, texts, vectors)
        if read is None:
            return False
        self._stances.update({(question_id, t): float(v) for t, v in zip(texts, read, strict=True)})
        return True

    def _head_read(
        self,
        embedder: Embedder,
        question_id: str,
        texts: list[str],
        vectors: np.ndarray | None = None,
    ) -> np.ndarray | None:
        axis = self._axis(embedder, question_id)
        head = head_for(getattr(embedder, "name", ""), axis is not None)
        if head is None:
            return None
        vectors = embedder.embed(texts) if vectors is None else vectors
        axes = None if axis is None else np.broadcast_to(axis, vectors.shape)
        return head.read(texts, vectors, axes, [question_id] * len(texts))

    def phrases(self, question_id: str, phrases: list[str]) -> np.ndarray | None:
        """Stances of phrases cut from a question's answers (a claim's candidates), read
        by the finest embedder with a head and kept apart from the answers' own; None
        when no embedder has one."""
        if not phrases:
            return None
        for embedder in (self.reader, self.embedder):
            read = None if embedder is None else self._head_read(embedder, question_id, phrases)
            if read is not None:
                return read
        return None

    def centre(self, question_id: str, answers: list[AnswerRecord]) -> None:
        """Read the stance of a question's answers, in one pass.

        Without a head: answers to a question share its words ("call", "first"), and
        so lean toward whichever label shares them too, whatever they claim; part of
        that common lean is taken off each answer's closeness to the labels."""
        texts = list(dict.fromkeys(a.text for a in answers if a.text in self.space.index))
        if not texts:
            return
        vectors = self.space.vectors[[self.space.index[t] for t in texts]]
        direction = self.direction(question_id)
        if not self._read(self.embedder, question_id, texts, vectors) and direction is not None:
            self._offsets[question_id] = float((vectors @ direction).mean())

    def read_sample(self, question_id: str, answers: list[AnswerRecord]) -> None:
        """With a finer `reader`, read at most `STANCE_SAMPLE` texts a side of these
        answers with it (a fixed-seed sample): their stances replace the coarse ones,
        and only they place the sides (`counts`)."""
        if self.reader is None:
            return
        rng = np.random.default_rng(SEED)
        texts: list[str] = []
        for role in ROLES:
            own = sorted({a.text for a in answers if a.role == role})
            if len(own) > STANCE_SAMPLE:
                own = [own[i] for i in np.sort(rng.choice(len(own), STANCE_SAMPLE, False))]
            texts += own
        texts = list(dict.fromkeys(texts))
        if texts and self._read(self.reader, question_id, texts):
            self._sampled[question_id] = set(texts)

    def counts(self, answer: AnswerRecord) -> bool:
        """Whether an unrated answer's stance places its side: every answer, unless a
        finer reader read a sample of its question, and then the sample only."""
        sample = self._sampled.get(answer.question_id)
        return sample is None or answer.text in sample

    def stance(self, answer: AnswerRecord) -> float:
        """Inferred stance of a text answer, -1 (low end of the scale) to 1 (high end)."""
        known = self._stances.get((answer.question_id, answer.text))
        if known is not None:
            return known
        tone = sentiment(answer.text)
        direction = self.direction(answer.question_id)
        row = self.space.index.get(answer.text)
        if direction is None or row is None:
            return tone
        offset = LABEL_CENTRING * self._offsets.get(answer.question_id, 0.0)
        similarity = (float(self.space.vectors[row] @ direction) - offset) / LABEL_SIMILARITY_SPAN
        blended = SENTIMENT_WEIGHT * tone + (1 - SENTIMENT_WEIGHT) * _clip(similarity)
        return _clip(blended)


def _clip(value: float) -> float:
    return max(-1.0, min(1.0, value))


def _to_scale(stance: float) -> float:
    return MIDPOINT + 2.0 * stance


# --- per question ----------------------------------------------------------------------


def _question_result(
    qid: str,
    text: str,
    answers: list[AnswerRecord],
    hidden_sides: dict[tuple[str, str], str],
    flagged: set[str],
    scorer: _StanceScorer,
    min_group: int,
) -> tuple[QuestionResult, dict[str, float]]:
    sides = {role: [a for a in answers if a.role == role] for role in ROLES}
    figures: dict[str, SideFigures] = {}
    for role in ROLES:
        if (qid, role) in hidden_sides:
            figures[role] = SideFigures(n=0)  # no count: even the size stays private
            continue
        ratings = [a.rating for a in sides[role] if a.rating is not None]
        figures[role] = SideFigures(
            n=len(sides[role]),
            n_rated=len(ratings),
            mean_rating=round(float(np.mean(ratings)), 2) if ratings else None,
            spread=round(float(np.std(ratings, ddof=1)), 2) if len(ratings) >= 2 else None,
        )
    suppressed = any((qid, role) in hidden_sides for role in ROLES)
    notes = [
        f"{role} answers: {hidden_sides[(qid, role)]}"
        for role in ROLES
        if (qid, role) in hidden_sides
    ]
    result = QuestionResult(
        question_id=qid,
        question=text,
        suppressed=suppressed,
        diverges=False,
        executive=figures["executive"],
        frontline=figures["frontline"],
        verdict="hidden" if suppressed else "not compared",
    )
    scores: dict[str, float] = {}  # answer id -> its position on the 1-5 scale
    if suppressed or not all(sides[role] for role in ROLES):
        if not suppressed:
            missing = [role for role in ROLES if not sides[role]]
            notes.append(f"no {missing[0]} answers to compare with")
        result.note = "; ".join(notes)
        return result, scores

    rated = {role: [a for a in sides[role] if a.rating is not None] for role in ROLES}
    worded = {
        role: [a for a in sides[role] if a.text.strip() and a.id not in flagged] for role in ROLES
    }
    for a in answers:  # every answer's position: its rating, else the stance of its words
        if a.rating is not None:
            scores[a.id] = float(a.rating)
        elif a.text.strip() and a.id not in flagged:
            scores[a.id] = _to_scale(scorer.stance(a))
    # The answers placed by their words alone: no rating, and read by the stance scorer.
    read = {
        role: [a for a in worded[role] if a.rating is None and scorer.counts(a)] for role in ROLES
    }
    meaning_p: float | None = None
    # A question answered partly in words alone is compared on every answer's position,
    # its rating or its words: the ratings alone would leave out what half the round said.
    if all(len(rated[role]) >= MIN_SCORED for role in ROLES) and not any(read.values()):
        basis = "ratings"
        values = {role: [float(a.rating) for a in rated[role]] for role in ROLES}
        p_value = _rank_p_value(values["executive"], values["frontline"])
    else:
        basis = "text"
        placed = {a.id for role in ROLES for a in rated[role] + read[role]}
        values = {role: [scores[a.id] for a in sides[role] if a.id in placed] for role in ROLES}
        for role in ROLES:
            stances = [scores[a.id] for a in read[role]]
            if stances:
                figures[role].stance = round((float(np.mean(stances)) - MIDPOINT) / 2.0, 2)
        if not all(len(values[role]) >= MIN_SCORED for role in ROLES):
            result.note = "too few scored answers on one side to compare"
            return result, scores
        # Positions read from words are measurements, not ordinal ratings with ties:
        # a permutation test on the difference of the sides' mean positions.
        p_value = _mean_p_value(values["executive"], values["frontline"])
        meaning_p = _meaning_test(worded, scores, scorer)

    executive = round(float(np.mean(values["executive"])), 2)
    frontline = round(float(np.mean(values["frontline"])), 2)
    figures["executive"].position = executive
    figures["frontline"].position = frontline
    # The gap is the difference of the two means as shown, so it never disagrees with them.
    gap = round(executive - frontline, 2)
    effect = _cliffs_delta(values["executive"], values["frontline"])
    significant = p_value < MAX_P
    opposite = min(executive, frontline) <= MIDPOINT <= max(executive, frontline)
    large = abs(effect) >= MIN_EFFECT
    result.basis = basis
    result.gap = gap
    result.p_value = _p_shown(p_value)
    result.meaning_p_value = None if meaning_p is None else _p_shown(meaning_p)
    result.effect_size = round(effect, 2)
    result.diverges = bool(significant and opposite and large and gap != 0)
    result.verdict = "contradict" if result.diverges else "differ" if significant else "agree"
    if basis == "text":
        result.note = "stance read from the wording of text answers"
    if result.verdict == "differ":
        if not opposite:
            side = "negative" if max(executive, frontline) < MIDPOINT else "positive"
            result.note = f"both sides lean {side}: a difference of degree, not a contradiction"
        else:
            result.note = "a significant but small difference"
    return result, scores


def _p_shown(p_value: float) -> float:
    return p_value if p_value >= 1e-6 else float(f"{p_value:.2e}")


def _rank_p_value(executive: list[float], frontline: list[float]) -> float:
    """Two-sided Mann-Whitney U p-value; 1.0 when every value is the same."""
    from scipy.stats import mannwhitneyu

    if np.ptp(executive + frontline) == 0:
        return 1.0
    return float(mannwhitneyu(executive, frontline, alternative="two-sided").pvalue)


def _mean_p_value(executive: list[float], frontline: list[float]) -> float:
    """Two-sided permutation p-value of the difference of the sides' means, among at
    most `MEANING_SAMPLE` values."""
    values = np.asarray(executive + frontline, dtype=np.float64).reshape(-1, 1)
    is_executive = np.arange(len(values)) < len(executive)
    rng = np.random.default_rng(SEED)
    keep = _fixed_sample(len(values), rng)
    if keep is not None:
        values, is_executive = values[keep], is_executive[keep]
    if is_executive.all() or not is_executive.any():
        return 1.0
    return _shuffled_p_value(values, is_executive, rng)


def _fixed_sample(count: int, rng: np.random.Generator) -> np.ndarray | None:
    """Sorted indices of a fixed-seed sample of `MEANING_SAMPLE` rows, when there are
    more rows than that (it keeps large rounds fast); None when all are read."""
    if count <= MEANING_SAMPLE:
        return None
    return np.sort(rng.choice(count, MEANING_SAMPLE, replace=False))


def _shuffled_p_value(
    rows: np.ndarray, is_executive: np.ndarray, rng: np.random.Generator
) -> float:
    """Permutation p-value of the distance between the two sides' mean rows: the role
    labels as they are, then shuffled `PERMUTATIONS` times. (All rows alike: 1.0.)"""
    n_e = int(is_executive.sum())
    n_f = len(rows) - n_e
    labels = np.vstack(
        [is_executive] + [rng.permutation(is_executive) for _ in range(PERMUTATIONS)]
    ).astype(np.float64)
    sums = labels @ rows
    gaps = np.linalg.norm(sums / n_e - (rows.sum(axis=0) - sums) / n_f, axis=1)
    return float((gaps >= gaps[0] - 1e-12).sum()) / len(gaps)


def _cliffs_delta(executive: list[float], frontline: list[float]) -> float:
    """P(executive > frontline) - P(executive < frontline), from the pooled ranks."""
    from scipy.stats import rankdata

    n_e, n_f = len(executive), len(frontline)
    ranks = rankdata(np.asarray(executive + frontline, dtype=np.float64))
    u = float(ranks[:n_e].sum()) - n_e * (n_e + 1) / 2
    return 2.0 * u / (n_e * n_f) - 1.0


def _meaning_test(
    worded: dict[Role, list[AnswerRecord]], scores: dict[str, float], scorer: _StanceScorer
) -> float:
    """Do the sides talk about different things? A permutation test on the distance
    between the sides' embedding centroids, with the question's common ground removed:
    role labels are shuffled among the question's worded answers."""
    answers = [a for role in ROLES for a in worded[role] if a.id in scores]
    is_executive = np.array([a.role == "executive" for a in answers])
    n_e = int(is_executive.sum())
    n_f = len(answers) - n_e
    if n_e < MIN_SCORED or n_f < MIN_SCORED:
        return 1.0
    rng = np.random.default_rng(SEED)
    keep = _fixed_sample(len(answers), rng)
    if keep is not None:
        answers = [answers[i] for i in keep]
        is_executive = is_executive[keep]
        n_e = int(is_executive.sum())
        if n_e < MIN_SCORED or len(answers) - n_e < MIN_SCORED:
            return 1.0
    vectors = scorer.space.vectors[scorer.space.rows(answers)].astype(np.float64)
    vectors = vectors - vectors.mean(axis=0)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    return _shuffled_p_value(vectors, is_executive, rng)


# --- contradictions --------------------------------------------------------------------


def _contradiction(
    result: QuestionResult,
    answers: list[AnswerRecord],
    scores: dict[str, float],
    flagged: set[str],
    space: _TextSpace,
    scorer: _StanceScorer,
    themes: list[Theme],
    info: QuestionInfo | None,
) -> Contradiction:
    gap = result.gap or 0.0
    high, low = ("executive", "frontline") if gap > 0 else ("frontline", "executive")
    quotes = {
        high: _side_quotes(answers, high, +1, scores, flagged, space, scorer),
        low: _side_quotes(answers, low, -1, scores, flagged, space, scorer),
    }
    claims = _claims(result, themes, info, quotes, scores, answers, flagged, scorer)
    return Contradiction(
        question_id=result.question_id,
        summary=_summary(result, claims, {info.low_label, info.high_label} if info else set()),
        executive_quotes=quotes["executive"],
        frontline_quotes=quotes["frontline"],
        executive_claim=_unquoted(claims["executive"]),
        frontline_claim=_unquoted(claims["frontline"]),
    )


def _claims(
    result: QuestionResult,
    themes: list[Theme],
    info: QuestionInfo | None,
    quotes: dict[str, list[Quote]],
    scores: dict[str, float],
    answers: list[AnswerRecord],
    flagged: set[str],
    scorer: _StanceScorer,
) -> dict[str, str]:
    """What each side says, in a few words: its own theme on the question that leans
    furthest its way, else the end of the scale it leans to, else its strongest quote.
    A theme's claim is said in the side's own words (`_side_title`)."""
    gap = result.gap or 0.0
    by_id = {a.id: a for a in answers}
    claims: dict[str, str] = {}
    for role in ROLES:
        other = "frontline" if role == "executive" else "executive"
        leans_high = (gap > 0) == (role == "executive")
        sign = 1.0 if leans_high else -1.0
        own = [
            t
            for t in themes
            if t.question_id == result.question_id
            and t.raised_by in (role, "both")
            # A theme is this side's when most of its answers are this side's...
            and _side_share(t, role, result) > _side_share(t, other, result)
        ]
        leaning: list[tuple[float, int, Theme]] = []
        for theme in own:
            positions = [scores[i] for i in theme.answer_ids if i in scores]
            if positions:
                lean = sign * (float(np.mean(positions)) - MIDPOINT)
                if lean > 0:  # ...and it leans the side's way
                    leaning.append((lean, len(theme.answer_ids), theme))
        label = (info.high_label if leans_high else info.low_label) if info else None
        if leaning:
            theme = max(leaning, key=lambda item: item[:2])[2]
            own_words = [
                a
                for a in (by_id.get(i) for i in theme.answer_ids)
                if a is not None
                and a.role == role
                and a.id not in flagged
                and a.text in scorer.space.index
                and sign * (scores.get(a.id, MIDPOINT) - MIDPOINT) > 0
            ]
            claims[role] = _side_title(theme, own_words, scorer, result.question_id, sign)
        elif label:
            claims[role] = label
        elif quotes[role]:
            claims[role] = _short(quotes[role][0].text, 80)
        else:
            claims[role] = "the opposite"
    return claims


def _side_title(
    theme: Theme,
    own_words: list[AnswerRecord],
    scorer: _StanceScorer,
    question_id: str,
    sign: float,
) -> str:
    """A theme's claim for one side, taken from that side's answers in it that lean its
    way, the most central first: a theme's title may come from the other side's answer
    (an ironic "We're clearly the best at sending people elsewhere" in a theme of
    executives' praise), and a claim must never put one side's words in the other's
    mouth. Of the phrases a title could be, one that itself leans the side's way: "The
    recipes are great, no argument from me" opens a complaint, and is not the complaint.
    The theme's own title when no such answer is left."""
    if not own_words:
        return theme.title
    space = scorer.space
    vectors = space.vectors[space.rows(own_words)].astype(np.float64)
    closeness = vectors @ vectors.mean(axis=0)
    order = np.argsort(-closeness, kind="stable")
    texts = list(dict.fromkeys(own_words[i].text for i in order))
    candidates = title_candidates(texts, theme.keywords)
    stances = scorer.phrases(question_id, [c[2].rstrip("…") for c in candidates])
    if stances is not None:
        leaning = [c for c, s in zip(candidates, stances, strict=True) if sign * s > 0]
        candidates = leaning or candidates
    return _best_title(candidates, texts)


def _side_share(theme: Theme, role: str, result: QuestionResult) -> float:
    """How much of a theme one side wrote (a count under the floor counts as half of it)."""
    count = getattr(theme, role)
    if count is None:
        count = (result.executive.n if role == "executive" else result.frontline.n) and 0.5
    return float(count)


def _summary(result: QuestionResult, claims: dict[str, str], ends: set[str | None]) -> str:
    """The contradiction in plain words, then the figures it rests on. A side whose claim
    is only the end of the scale it leans to, from a mean rating near the middle, is said
    to lean towards it: "Executives believe 'Completely'" would overstate a 3.5. (Positions
    read from words sit nearer the middle than the answers do, so they keep "believe".)"""
    p = result.p_value if result.p_value is not None else 1.0
    p_text = "p<0.001" if p < 0.001 else f"p={p:.3f}"
    executive, frontline = result.executive.position, result.frontline.position
    mark = "≈" if result.basis == "text" else ""
    read = "read from their words: " if result.basis == "text" else ""

    def mild(role: str, position: float | None) -> bool:
        near = position is not None and abs(position - MIDPOINT) < MILD
        return result.basis == "ratings" and near and claims[role] in ends

    believe = "lean towards" if mild("executive", executive) else "believe"
    sees = "leans towards" if mild("frontline", frontline) else "sees"
    return (
        f"Executives {believe} “{_unquoted(claims['executive'])}”; "
        f"the frontline {sees} “{_unquoted(claims['frontline'])}”. "
        f"({read}executives {mark}{executive:.1f}/5, frontline {mark}{frontline:.1f}/5, "
        f"gap {result.gap_as_shown():+.1f}, {p_text}, "
        f"{result.executive.n} vs {result.frontline.n} answers)"
    )


def _unquoted(text: str) -> str:
    """A claim as it goes between the summary's own quote marks: without quote marks
    that wrap all of it, or a closing full stop. A quote inside it keeps both its marks
    (`The checker said "good outdoor"`)."""
    text = text.strip()
    inner = text[1:-1]
    if len(text) > 1 and text[0] in '“"' and text[-1] in '”"' and not set('“”"') & set(inner):
        text = inner.strip()
    return text.rstrip(".")


def _short(question: str, limit: int = 90) -> str:
    question = " ".join(question.split())
    if len(question) <= limit:
        return question
    return question[: question.rfind(" ", 0, limit)] + "…"


def _side_quotes(
    answers: list[AnswerRecord],
    role: Role,
    sign: int,
    scores: dict[str, float],
    flagged: set[str],
    space: _TextSpace,
    scorer: _StanceScorer,
) -> list[Quote]:
    """The strongest verbatim answers of one side, in that side's direction."""
    candidates = [
        a
        for a in answers
        if a.role == role and a.id not in flagged and a.text.strip() and a.text in space.index
    ]
    if not candidates:
        return []
    rows = space.rows(candidates)
    centroid = space.vectors[rows].mean(axis=0)
    typicality = space.vectors[rows] @ centroid
    # Prefer answers on the side's own side of the midpoint, with real sentences.
    on_side = [
        i for i, a in enumerate(candidates) if sign * (scores.get(a.id, MIDPOINT) - MIDPOINT) >= 0
    ]
    pool = on_side or list(range(len(candidates)))
    worded = [i for i in pool if len(candidates[i].text.split()) >= MIN_QUOTE_WORDS]
    pool = worded or pool
    pool = list({candidates[i].text: i for i in reversed(pool)}.values())  # one per text
    if len(pool) > QUOTE_CANDIDATES:
        # The strongest quotes are among those furthest along the side's direction.
        def rough(i: int) -> tuple[float, str]:
            a = candidates[i]
            return (-(sign * scores.get(a.id, MIDPOINT) + 0.5 * float(typicality[i])), a.id)

        pool = sorted(pool, key=rough)[:QUOTE_CANDIDATES]

    def strength(i: int) -> tuple[float, float, str]:
        # Its position, then where its words stand (which tells apart two answers
        # rated alike), then how typical of its side it is. Never its tone alone: a
        # low stance is often said in friendly words.
        a = candidates[i]
        score = sign * scores.get(a.id, MIDPOINT) + 0.5 * sign * scorer.stance(a)
        return (-(score + 0.5 * float(typicality[i])), float(-typicality[i]), a.id)

    quotes: list[Quote] = []
    seen: set[str] = set()
    for i in sorted(pool, key=strength):
        text = candidates[i].text
        if text in seen:
            continue
        seen.add(text)
        quotes.append(Quote(answer_id=candidates[i].id, text=excerpt(text), role=role))
        if len(quotes) == QUOTES_PER_SIDE:
            break
    return quotes


# --- themes ----------------------------------------------------------------------------


def _themes(
    usable: list[AnswerRecord],
    space: _TextSpace,
    question_text: dict[str, str],
    min_group: int,
    scorer: _StanceScorer | None = None,
) -> list[Theme]:
    """Themes within each question first; themes of different questions that say the
    same thing are then merged into one theme of the round. With a `scorer`, a title
    never says the opposite of the answer it is cut from (`_meant_title`)."""
    by_question: dict[str, list[AnswerRecord]] = defaultdict(list)
    for a in usable:
        by_question[a.question_id].append(a)
    # Which sides gave usable answers to which questions: a theme is only a blind spot
    # when the other side answered the same questions and still did not raise it.
    answered = {(a.question_id, a.role) for a in usable}
    found: list[_FoundTheme] = []
    for qid in question_text:
        extra_stop = set(_tokens(question_text[qid]))
        found += _question_themes(
            by_question.get(qid, []), space, qid, extra_stop, min_group, scorer
        )
    return [theme.as_theme(space, answered, min_group) for theme in _merge_close(found, space)]


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z][a-z'-]+", text.lower())


@dataclass
class _FoundTheme:
    """A group of answers saying the same thing, before it is drawn as a `Theme`."""

    question_id: str | None
    members: list[AnswerRecord]
    #: Unique text rows, most representative first.
    representative: list[int]
    keywords: list[str]
    title: str

    def as_theme(self, space: _TextSpace, answered: set[tuple[str, str]], min_group: int) -> Theme:
        counts = Counter(a.role for a in self.members)
        questions = {a.question_id for a in self.members}
        raised_by = "both"
        for role, other in (("executive", "frontline"), ("frontline", "executive")):
            if counts[other] == 0 and any((q, other) in answered for q in questions):
                raised_by = role
        return Theme(
            title=self.title,
            keywords=self.keywords,
            answer_ids=[a.id for a in self.members],
            executive=_shown_count(counts["executive"], min_group),
            frontline=_shown_count(counts["frontline"], min_group),
            question_id=self.question_id,
            quotes=self.quotes(space),
            raised_by=raised_by,
        )

    def quotes(self, space: _TextSpace) -> list[Quote]:
        """The most representative answers, one from each side first when both spoke."""
        first: dict[str, AnswerRecord] = {}
        for a in self.members:
            first.setdefault(a.text, a)
        rows = [r for r in self.representative if len(space.texts[r].split()) >= MIN_QUOTE_WORDS]
        rows = rows or self.representative
        picked: list[int] = []
        # The answer the title comes from first, so the example under a title says it...
        titled = _title_source(self.title, [space.texts[r] for r in self.representative])
        if titled is not None:
            picked.append(self.representative[titled])
        # ...then one quote from each side that said it, the side that said it most first.
        roles_in_order = sorted(
            ROLES, key=lambda role: -sum(1 for a in self.members if a.role == role)
        )
        for role in roles_in_order:
            if any(first[space.texts[r]].role == role for r in picked):
                continue
            for r in rows:
                if first[space.texts[r]].role == role:
                    picked.append(r)
                    break
        for r in rows:
            if len(picked) >= QUOTES_PER_THEME:
                break
            if r not in picked:
                picked.append(r)
        return [
            Quote(
                answer_id=first[space.texts[r]].id,
                text=excerpt(space.texts[r]),
                role=first[space.texts[r]].role,
            )
            for r in picked[:QUOTES_PER_THEME]
        ]


def _title_source(title: str, texts: list[str]) -> int | None:
    """Which of `texts` a title was taken from (word for word, whatever the case)."""
    words = " ".join(title.rstrip("…").split()).lower()
    for i, text in enumerate(texts):
        if words and words in " ".join(text.split()).lower():
            return i
    return None


def _shown_count(count: int, min_group: int) -> int | None:
    """A side's count in a theme, or None when it is some but fewer than the floor."""
    return None if Floor(min_group).hides(count) else count


def _question_themes(
    answers: list[AnswerRecord],
    space: _TextSpace,
    question_id: str,
    extra_stop: set[str],
    min_group: int,
    scorer: _StanceScorer | None = None,
) -> list[_FoundTheme]:
    if len(answers) < MIN_THEME_ANSWERS:
        return []
    unique = np.array(list(dict.fromkeys(space.index[a.text] for a in answers)), dtype=np.int64)
    vectors = space.theme_vectors(unique)
    labels = group_by_meaning(vectors, most_themes(len(answers)), SEED)
    label_of = dict(zip(unique.tolist(), labels.tolist(), strict=True))
    sizes = Counter(label_of[space.index[a.text]] for a in answers)
    kept = sorted(
        (c for c in sizes if sizes[c] >= MIN_THEME_ANSWERS), key=lambda c: (-sizes[c], c)
    )[:MAX_THEMES_PER_QUESTION]
    if not kept:
        return []
    # A person puts every answer on some pile: one from a group too small to be a theme
    # joins the nearest theme that is kept.
    stray = ~np.isin(labels, kept)
    if stray.any():
        centroids = unit(np.stack([vectors[labels == c].mean(axis=0) for c in kept]))
        nearest = np.argmax(vectors[stray] @ centroids.T.astype(np.float64), axis=1)
        labels[stray] = np.asarray(kept)[nearest]
    label_of = dict(zip(unique.tolist(), labels.tolist(), strict=True))
    members: dict[int, list[AnswerRecord]] = defaultdict(list)
    for a in answers:
        members[label_of[space.index[a.text]]].append(a)
    representative: dict[int, list[int]] = {}
    for c in kept:
        mask = labels == c
        centroid = vectors[mask].mean(axis=0)
        closeness = vectors[mask] @ centroid
        rows = unique[mask]
        order = np.lexsort((rows, -closeness))
        representative[c] = rows[order[:KEYWORD_TEXTS_PER_CLUSTER]].tolist()
    keywords = c_tf_idf(
        [[space.texts[r] for r in representative[c]] for c in kept], extra_stop | _EXTRA_STOP
    )
    # A title speaks for most of its theme: it is taken from the side that wrote most of
    # it, never from one ironic answer of the other side among the first's praise.
    titled: dict[int, list[str]] = {}
    for c in kept:
        majority = Counter(a.role for a in members[c]).most_common(1)[0][0]
        written = {a.text for a in members[c] if a.role == majority}
        texts = [space.texts[r] for r in representative[c]]
        titled[c] = [t for t in texts if t in written] or texts
    by_text = {a.text: a for a in answers}
    return [
        _FoundTheme(
            question_id=question_id,
            members=members[c],
            representative=representative[c],
            keywords=words,
            title=_meant_title(titled[c], words, scorer, question_id, by_text),
        )
        for c, words in zip(kept, keywords, strict=True)
    ]


def _meant_title(
    texts: list[str],
    keywords: list[str],
    scorer: _StanceScorer | None,
    question_id: str,
    by_text: dict[str, AnswerRecord],
) -> str:
    """`theme_title`, but never a phrase that, read alone, stands on the other side of the
    scale from its whole answer: cut from it, irony ("Our communication is outstanding."
    opening a complaint) and a concession that turns ("The leak team is brilliant, but
    billing…") say the opposite of what was meant."""
    candidates = title_candidates(texts, keywords)
    if scorer is None or not candidates:
        return _best_title(candidates, texts)
    # Best first, each read alone only when the ones before it were dropped: most titles
    # are not ironic, so a theme costs one short phrase's reading.
    for candidate in sorted(candidates, key=lambda c: c[:2], reverse=True):
        read = scorer.phrases(question_id, [candidate[2].rstrip("…")])
        if read is None:
            break
        alone, said = float(read[0]), scorer.stance(by_text[texts[-candidate[1]]])
        if not (alone * said < 0 and abs(alone) >= OUT_OF_CONTEXT):
            return _best_title([candidate], texts)
    return _best_title(candidates, texts)


def _merge_close(found: list[_FoundTheme], space: _TextSpace) -> list[_FoundTheme]:
    """Merge themes of different questions whose answers mean nearly the same.

    Closeness is measured with the round's common ground taken off (every answer is
    about customers and work), so that a sentence encoder, for which any two answers
    look alike, and word vectors use the same threshold."""
    if len(found) < 2:
        return found
    common = space.vectors.mean(axis=0)
    centroids = unit(
        np.stack(
            [
                space.vectors[[space.index[a.text] for a in theme.members]].mean(axis=0) - common
                for theme in found
            ]
        )
    )
    similarity = centroids @ centroids.T
    parent = list(range(len(found)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(found)):
        for j in range(i + 1, len(found)):
            if (
                found[i].question_id != found[j].question_id
                and similarity[i, j] >= MERGE_SIMILARITY
            ):
                parent[root(j)] = root(i)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(found)):
        groups[root(i)].append(i)
    merged: list[_FoundTheme] = []
    for indices in groups.values():
        if len(indices) == 1:
            merged.append(found[indices[0]])
            continue
        parts = sorted((found[i] for i in indices), key=lambda t: -len(t.members))
        representative = [r for part in parts for r in part.representative[:2]]
        representative += [r for part in parts for r in part.representative[2:]]
        merged.append(
            _FoundTheme(
                question_id=None,
                members=[a for part in parts for a in part.members],
                representative=list(dict.fromkeys(representative)),
                keywords=parts[0].keywords,
                title=parts[0].title,
            )
        )
    return sorted(merged, key=lambda t: -len(t.members))


#: A clause: up to a stop, a question or exclamation mark, a semicolon, colon, dash or
#: bracket. A full stop inside a token ("4.7 stars", "£3.50") does not end one, nor does
#: a mark inside a short quotation (`they get "we miss u! 20% off" spam`), nor the colon
#: of a time ("the 22:40 didn't run").
_CLAUSE = re.compile(
    r'(?:"[^"\n]{1,80}"|“[^”\n]{1,80}”|[^.!?;:—–()\n]|\.(?=[^\s.])|(?<=\d):(?=\d))+'
)
#: Openings that carry no meaning of their own ("Honestly, ...", "I think ...").
_FILLER = re.compile(
    r"^(?:honestly|frankly|to be (?:honest|frank)|if i'?m honest|i think|i'?d say|"
    r"i believe|in my view|yes|no|well|so|and|but|mostly|sadly|clearly|absolutely|"
    r"definitely|really|for me|from what i see|um+|uh+|erm?|i mean|you know|yeah|okay|"
    r"ja|nein|oui|non|nee|ehrlich gesagt|franchement|sinceramente|eerlijk gezegd)\b[\s,]*",
    re.I,
)
#: A clause opening like this leans on another one: it makes a poor title alone. (With
#: the common ones of German, French, Spanish and Dutch: "Porque ahora somos menos…".)
_DEPENDENT = re.compile(
    r"^(?:by the time|when|whenever|if|because|after|once|until|while|since|though|"
    r"although|which|that|who|where|as|so that|even|not|to|or|nor|than|"
    r"weil|wenn|als|obwohl|dass|ob|seit|seitdem|während|nachdem|bevor|damit|"
    r"parce que|quand|lorsque|puisque|bien que|que|qui|où|depuis que|pendant que|"
    r"porque|cuando|aunque|donde|mientras|ya que|desde que|"
    r"omdat|wanneer|toen|hoewel|terwijl|sinds)\b",
    re.I,
)
#: A clause after an answer's first that opens like this points back at something said
#: before it ("They'd follow him", "then came in and shouted", "Didn't ask him for
#: anything", whose subject is in the clause before): it cannot stand alone.
_POINTS_BACK = re.compile(
    r"^(?:he|she|they|it|this|that|these|those|him|her|them|then|there|"
    r"(?:did|does|do|was|were|is|are|has|have|had|would|could|wo|ca)n[’']?t)\b",
    re.I,
)
#: A short clause that ends on a bare auxiliary ("The shop does.", "Nobody else would.")
#: leaves its verb to a clause before it: it cannot stand alone. ("Patient care is in
#: everything we do" is long enough to hold its own verb.)
_ELLIPTICAL = re.compile(
    r"\b(?:do|does|did|is|are|was|were|am|can|could|will|would|shall|should|may|might|"
    r"must|has|have|had)(?:n't|n’t| not)?$",
    re.I,
)
#: A later part of a long sentence that opens like this is a fragment of it.
_FRAGMENT = re.compile(
    r"^(?:on|in|at|with|for|from|by|of|about|like|into|over|under|after|before|without|"
    r"including|especially|except|instead|plus|then|apart)\b",
    re.I,
)
TITLE_MAX_WORDS = 12
#: A title phrase that reads this far from the scale's middle alone (stance, -1..1) while
#: its whole answer stands on the other side, however near the middle, says what its answer
#: does not (`_meant_title`): irony read whole often lands just past the middle ("Our
#: communication is outstanding. As in, the client's email from Tuesday is still
#: outstanding." -0.08), and dropping a title only costs the next best phrase. (Short
#: factual phrases read near the middle alone, and noisily.)
OUT_OF_CONTEXT = 0.3
#: Where a long part of a sentence ends a clause that can stand alone.
_JOINED = re.compile(r"\s+(?:and|but)\s+", re.I)
#: A joining word, or a filler, left at the end of a part of a sentence.
_DANGLING = re.compile(r"(?:\s+(?:and|or|but|um+|uh+|erm?))+\s*$", re.I)
#: A comma between parts of a sentence, not one inside a figure ("14,000 households"),
#: or a spoken filler, where a transcribed voice note starts its next thought ("oh loads
#: i mean i swap a bulb or top the screenwash").
_COMMA = re.compile(r",(?!\d)|\s+(?:um+|uh+|erm?|i mean|you know)\s+", re.I)
#: Words that lead into the next one: a cut title does not end on them.
_LEADS_ON = re.compile(
    r"(?:a|an|the|and|or|but|to|of|in|on|at|for|with|from|by|as|than|that|which|who|our|"
    r"their|its|his|her|my|your|we|they|i|is|are|was|were|be|been|so|if|not|no)",
    re.I,
)


def theme_title(texts: list[str], keywords: list[str]) -> str:
    """A title a person would write: the most telling short phrase of the theme's most
    representative answers, taken word for word (never a keyword list)."""
    return _best_title(title_candidates(texts, keywords), texts)


def title_candidates(texts: list[str], keywords: list[str]) -> list[tuple[float, int, str]]:
    """(score, -rank, phrase) for each phrase of the first three texts that could stand
    alone as a title: a short sentence or a part of a long one, without its filler
    opening, never one that leans on another, scored by the keywords it holds."""
    weights = {word: len(keywords) - i for i, word in enumerate(keywords)}
    candidates: list[tuple[float, int, str]] = []
    for rank, text in enumerate(texts[:3]):
        later = False  # past the answer's first clause
        for sentence in _CLAUSE.finditer(text):
            # A whole sentence when it is short; else its parts between commas (or spoken
            # fillers), each with what comes before its first "and" or "but" when it is
            # still too long ("Imported stoneware is half our trade price and to most…").
            parts = [sentence.group()]
            if len(parts[0].split()) > TITLE_MAX_WORDS:
                parts = _COMMA.split(parts[0])
            parts = [piece for part in parts for piece in _conjuncts(part)]
            for index, part in enumerate(parts):
                clause = _closed_quotes(" ".join(part.split()))
                while _FILLER.match(clause) and _FILLER.sub("", clause, count=1) != clause:
                    clause = _FILLER.sub("", clause, count=1)
                # "…ring the dealer if its a newer car or", cut by a filler: the joining
                # word left at the end goes.
                clause = _DANGLING.sub("", clause)
                words = clause.split()
                leans_back = later and _POINTS_BACK.match(clause)
                # "..., on the app version that didn't save skips": a later part of a
                # sentence that opens with a preposition is a fragment of it.
                fragment = index > 0 and _FRAGMENT.match(clause)
                later = later or bool(words)
                elliptical = len(words) <= 4 and _ELLIPTICAL.search(clause.rstrip(" .!?"))
                cannot_stand = leans_back or fragment or elliptical
                if len(words) < 3 or _DEPENDENT.match(clause) or cannot_stand:
                    continue
                if len(words) > TITLE_MAX_WORDS:
                    clause = _cut(words)
                # Scored by the words a reader sees: a keyword hidden past the cut says
                # nothing, so a whole half of a sentence beats the whole sentence cut.
                shown = clause.rstrip("…").split()
                score = sum(weights.get(w.lower().strip("'\""), 0) for w in shown)
                score -= 2 * rank + max(0, len(words) - TITLE_MAX_WORDS)
                candidates.append((score, -rank, clause))
    return candidates


def _conjuncts(part: str) -> list[str]:
    """A part too long for a title, then what comes before its first "and" or "but"; a
    short part alone. (What follows them often has no subject of its own: "…and asking
    them to open a new ticket".)"""
    if len(part.split()) <= TITLE_MAX_WORDS:
        return [part]
    return [part, _JOINED.split(part, maxsplit=1)[0]]


def _cut(words: list[str]) -> str:
    """The title's first words and an ellipsis, never ending on a word that leads into
    the next ("…and to most shoppers a…")."""
    kept = words[:TITLE_MAX_WORDS]
    while len(kept) > 3 and _LEADS_ON.fullmatch(kept[-1].strip(",;'\"")):
        kept.pop()
    return _closed_quotes(" ".join(kept).rstrip(",;:-–—")) + "…"


def _closed_quotes(clause: str) -> str:
    """A phrase up to a quotation it opens and does not close (cut by a comma or by the
    title's length inside one): a title or a claim with half a quotation reads as a typo."""
    for opening, closing in (('"', '"'), ("“", "”")):
        if opening == closing:
            unbalanced = clause.count(opening) % 2 == 1
        else:
            unbalanced = clause.count(opening) != clause.count(closing)
        if unbalanced:  # cut at the last mark of the pair
            return clause[: max(clause.rfind(opening), clause.rfind(closing))].rstrip(" ,:-–—")
    return clause


def _best_title(candidates: list[tuple[float, int, str]], texts: list[str]) -> str:
    """The best-scored candidate, capitalised; the first text's opening words without one."""
    if not candidates:
        first = " ".join(texts[0].split()[:TITLE_MAX_WORDS]) if texts else "Other answers"
        return first[:1].upper() + first[1:]
    title = max(candidates, key=lambda c: c[:2])[2]
    return title[:1].upper() + title[1:]


def c_tf_idf(
    cluster_texts: list[list[str]],
    extra_stop: set[str] = frozenset(),
    top: int = KEYWORDS_PER_THEME,
) -> list[list[str]]:
    """Distinctive keywords per cluster: class-based TF-IDF over cluster-concatenated texts."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    documents = [" ".join(texts) for texts in cluster_texts]
    stop = sorted(ENGLISH_STOP_WORDS | extra_stop | _EXTRA_STOP)
    vectorizer = CountVectorizer(stop_words=stop, token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z'-]+\b")
    try:
        counts = vectorizer.fit_transform(documents)
    except ValueError:  # nothing but stop words
        return [[] for _ in documents]
    counts = counts.astype(np.float64).toarray() if counts.shape[1] < 50000 else counts.toarray()
    # BERTopic's c-TF-IDF: term frequency in the cluster × log(1 + average cluster
    # length / the term's frequency across all clusters).
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    average = counts.sum() / max(len(documents), 1)
    idf = np.log1p(average / np.maximum(counts.sum(axis=0), 1))
    weights = tf * idf
    vocabulary = vectorizer.get_feature_names_out()
    result = []
    for row, count_row in zip(weights, counts, strict=True):
        order = np.lexsort((vocabulary, -row))
        result.append([str(vocabulary[i]) for i in order[:top] if count_row[i] > 0])
    return result


# Words every workplace answer uses; they never tell one theme from another.
_EXTRA_STOP = {
    "don't",
    "doesn't",
    "isn't",
    "aren't",
    "won't",
    "can't",
    "it's",
    "we're",
    "they're",
    "i'm",
    "just",
    "really",
    "think",
}


# --- notes -----------------------------------------------------------------------------


def _notes(results: list[QuestionResult]) -> list[str]:
    # What the floor hid and what was flagged are listed in `hidden` and `flagged`;
    # saying it again here printed each twice.
    notes: list[str] = []
    if any(r.basis == "text" for r in results):
        notes.append(
            "Where a question has too few ratings, each side's stance is read from the wording "
            "of its answers (what they say, and how close it is to the scale's two ends): "
            "indicative only."
        )
    return notes


# --- what to ask next ------------------------------------------------------------------

#: A follow-up question's scale ends are cut to this many characters, so "1 · <end>"
#: fits a Slack option (75 at most).
FOLLOW_UP_END_CHARS = 60


#: The ends of the next round's question where both sides agree we fall short.
SHORTFALL_LOW = "Nothing that I can see"
SHORTFALL_HIGH = "Yes, and it is working"


def follow_ups(
    results: list[QuestionResult],
    themes: list[Theme],
    infos: dict[str, QuestionInfo],
    contradictions: Iterable[Contradiction] = (),
) -> list[FollowUp]:
    """A follow-up question for each contradiction, widest first, then for each
    significant difference: the bank's own `why`, pointed at what each side raised.
    Each also comes as a question for the next round, rated between the two sides'
    claims (or the question's own ends), with the `why` as its free text. Last, for each
    question both sides agree we fall short on, lowest first: its `why`, and for the next
    round whether anything is being done about it."""
    claims = {c.question_id: c for c in contradictions}
    asked: list[FollowUp] = []
    for result in ranked(results):
        if result.verdict not in ("contradict", "differ"):
            continue
        info = infos.get(result.question_id)
        why = " ".join((info.why or "").split()) if info else ""
        raised = {
            role: [
                t.title
                for t in themes
                if t.question_id == result.question_id and t.raised_by == role
            ]
            for role in ROLES
        }
        parts: list[str] = []
        if why:
            parts.append(why)
        else:
            parts.append(
                f"Why do executives and frontline answer “{_short(result.question, 80)}” "
                "so differently?"
            )
        if raised["frontline"]:
            parts.append(
                f"Ask executives about the frontline's “{_unquoted(raised['frontline'][0])}”."
            )
        if raised["executive"]:
            parts.append(
                f"Ask the frontline about the executives' “{_unquoted(raised['executive'][0])}”."
            )
        high_side, low_side = (
            ("executive", "frontline") if (result.gap or 0.0) > 0 else ("frontline", "executive")
        )
        contradiction = claims.get(result.question_id)
        if contradiction and contradiction.executive_claim and contradiction.frontline_claim:
            ends = {
                "executive": contradiction.executive_claim,
                "frontline": contradiction.frontline_claim,
            }
        else:  # no claims in words: the question's own ends, the higher side's at the top
            ends = {
                low_side: (info.low_label if info else "") or "Not at all",
                high_side: (info.high_label if info else "") or "Completely",
            }
        low = _short(ends[low_side], FOLLOW_UP_END_CHARS)
        high = _short(ends[high_side], FOLLOW_UP_END_CHARS)
        asked.append(
            FollowUp(
                question_id=result.question_id,
                text=" ".join(parts),
                ask=f"On “{_short(result.question, 80)}”, which is closer to what you see: "
                f"“{low}” or “{high}”?",
                low=low,
                high=high,
                why=why or "Why? Tell us what you have seen.",
            )
        )
    # Then where both sides agree we fall short: nobody disputes it, so the next question
    # is why, and whether anything is being done.
    for result in shortfalls(results):
        info = infos.get(result.question_id)
        why = " ".join((info.why or "").split()) if info else ""
        asked.append(
            FollowUp(
                question_id=result.question_id,
                text="Both sides agree we fall short. "
                + (why or "What stops us, and who could change it?"),
                ask=f"On “{_short(result.question, 80)}”, both sides said we fall short. "
                "Is anything being done about it?",
                low=SHORTFALL_LOW,
                high=SHORTFALL_HIGH,
                why=why or "What stops us? Tell us what you have seen.",
            )
        )
    return asked
