"""Scores the offline engine on the labelled fixture: contradictions found (precision
and recall), quotes faithful, the small group never leaked, junk and injection
flagged and never quoted, the planted blind spot found."""

from __future__ import annotations

import json

import pytest

from bot.analysis.models import Analysis, AnswerRecord, QuestionInfo
from bot.analysis.offline import analyse_offline
from bot.analysis.quotes import excerpt

pytestmark = pytest.mark.slow  # the whole module: a real model or the embeddings


@pytest.fixture(scope="module")
def analysis(labelled_answers, labels, question_infos, embedder) -> Analysis:
    return analyse_offline(
        labelled_answers, min_group=labels["min_group"], questions=question_infos, embedder=embedder
    )


@pytest.fixture(scope="module")
def analysis_without_scales(labelled_answers, labels, embedder) -> Analysis:
    """As the `analyse` command runs it on a bare export: no scale labels."""
    return analyse_offline(labelled_answers, min_group=labels["min_group"], embedder=embedder)


def _scores(analysis: Analysis, expected: set[str]) -> tuple[float, float]:
    found = {c.question_id for c in analysis.contradictions}
    true_positives = len(found & expected)
    precision = true_positives / len(found) if found else 0.0
    recall = true_positives / len(expected)
    return precision, recall


@pytest.mark.parametrize("which", ["analysis", "analysis_without_scales"])
def test_contradictions_precision_and_recall_are_perfect(which, request, labels):
    result = request.getfixturevalue(which)
    precision, recall = _scores(result, set(labels["contradictions"]))
    assert (precision, recall) == (1.0, 1.0)
    diverging = {q.question_id for q in result.questions if q.diverges}
    assert diverging == set(labels["contradictions"])


def test_text_only_contradiction_rests_on_text(analysis, labels):
    for qid in labels["text_only"]:
        result = next(q for q in analysis.questions if q.question_id == qid)
        assert result.basis == "text"
        assert result.executive.n_rated == 0
        assert result.executive.stance > 0 > result.frontline.stance


def test_agreements_do_not_diverge(analysis, labels):
    by_id = {q.question_id: q for q in analysis.questions}
    for qid, kind in labels["agreements"].items():
        result = by_id[qid]
        assert not result.diverges
        means = [result.executive.mean_rating, result.frontline.mean_rating]
        if kind == "both negative":
            assert max(means) < 3
        else:
            assert min(means) > 3


def test_summaries_are_plain_and_carry_the_figures(analysis):
    by_id = {q.question_id: q for q in analysis.questions}
    for contradiction in analysis.contradictions:
        result = by_id[contradiction.question_id]
        assert "p<0.001" in contradiction.summary or "p=" in contradiction.summary
        if result.basis == "ratings":
            assert f"{result.executive.mean_rating:.1f}/5" in contradiction.summary
            assert f"{result.frontline.mean_rating:.1f}/5" in contradiction.summary


def _all_quotes(analysis: Analysis):
    for contradiction in analysis.contradictions:
        for quote in contradiction.executive_quotes:
            yield "executive", quote
        for quote in contradiction.frontline_quotes:
            yield "frontline", quote
    for theme in analysis.themes:
        for quote in theme.quotes:
            yield None, quote


@pytest.mark.parametrize("which", ["analysis", "analysis_without_scales"])
def test_quotes_are_verbatim_and_from_the_right_side(which, request, labelled_answers):
    result = request.getfixturevalue(which)
    by_id = {a.id: a for a in labelled_answers}
    quotes = list(_all_quotes(result))
    assert quotes
    for role, quote in quotes:
        assert quote.answer_id in by_id, quote
        assert quote.text and quote.text in by_id[quote.answer_id].text
        if role is not None:
            assert by_id[quote.answer_id].role == role
    for contradiction in result.contradictions:
        assert contradiction.executive_quotes and contradiction.frontline_quotes
        for quote in contradiction.executive_quotes + contradiction.frontline_quotes:
            assert by_id[quote.answer_id].question_id == contradiction.question_id


def test_contradiction_quotes_lean_the_sides_way(analysis, labelled_answers):
    by_id = {a.id: a for a in labelled_answers}
    for contradiction in analysis.contradictions:
        for quote in contradiction.executive_quotes:
            rating = by_id[quote.answer_id].rating
            assert rating is None or rating >= 4
        for quote in contradiction.frontline_quotes:
            rating = by_id[quote.answer_id].rating
            assert rating is None or rating <= 2


def test_small_group_is_hidden_and_never_leaked(analysis, labelled_answers, labels):
    hidden = {(h["question_id"], h["role"]) for h in labels["hidden"]}
    assert {(h.question_id, h.role) for h in analysis.hidden} == hidden
    secret = [a for a in labelled_answers if (a.question_id, a.role) in hidden]
    assert len(secret) == 3
    dumped = json.dumps(analysis.model_dump(), ensure_ascii=False)
    for answer in secret:
        assert f'"{answer.id}"' not in dumped
        assert answer.text not in dumped
        # Not even a distinctive word of it (the fixture plants unusual ones).
        assert answer.text.split(":")[0] not in dumped
    for qid, role in hidden:
        result = next(q for q in analysis.questions if q.question_id == qid)
        assert result.suppressed and not result.diverges and result.gap is None
        assert getattr(result, role).mean_rating is None and getattr(result, role).n == 0
    assert analysis.answers_analysed == len(labelled_answers) - len(secret)
    assert all("3" not in h.reason for h in analysis.hidden)  # no count, only the floor


def test_injection_and_junk_are_flagged_and_never_quoted(analysis, labels):
    reasons = {f.answer_id: f.reason for f in analysis.flagged}
    for answer_id in labels["flagged"]["injection"]:
        assert "injection" in reasons[answer_id]
    for answer_id in labels["flagged"]["junk"]:
        assert "junk" in reasons[answer_id]
    quoted = {quote.answer_id for _, quote in _all_quotes(analysis)}
    assert not quoted & set(reasons)
    in_themes = {i for theme in analysis.themes for i in theme.answer_ids}
    assert not in_themes & set(reasons)
    # Flagged answers still count toward n: the junk answer's side keeps its 10 answers.
    give_away = next(q for q in analysis.questions if q.question_id == "give-away")
    assert give_away.frontline.n == 10


def test_no_other_answer_is_flagged(analysis, labels):
    expected = set(labels["flagged"]["injection"]) | set(labels["flagged"]["junk"])
    assert {f.answer_id for f in analysis.flagged} == expected


def test_planted_blind_spot_is_found(analysis, labels):
    for spot in labels["blind_spots"]:
        matches = [
            t
            for t in analysis.themes
            if t.question_id == spot["question_id"]
            and t.raised_by == spot["raised_by"]
            and set(t.keywords) & set(spot["keywords_any"])
        ]
        assert matches, [(t.question_id, t.keywords, t.raised_by) for t in analysis.themes]


def test_themes_count_both_sides_and_cite_real_answers(analysis, labelled_answers):
    by_id = {a.id: a for a in labelled_answers}
    assert analysis.themes
    for theme in analysis.themes:
        roles = [by_id[i].role for i in theme.answer_ids]
        for role in ("executive", "frontline"):
            count = roles.count(role)
            # The floor applies to a theme's sides too: a count under it is never shown.
            expected = None if 0 < count < analysis.min_group_size else count
            assert getattr(theme, role) == expected
        assert theme.keywords and theme.title
        assert " / " not in theme.title  # a phrase a person would write, not keywords
        if theme.question_id is not None:
            assert {by_id[i].question_id for i in theme.answer_ids} == {theme.question_id}


def test_the_same_input_gives_the_same_analysis(analysis, labelled_answers, question_infos):
    # A fresh embedder too: nothing may depend on what an earlier run cached.
    from bot.analysis.embeddings import E5Embedder

    again = analyse_offline(
        [a.model_copy() for a in labelled_answers],
        min_group=5,
        questions=question_infos,
        embedder=E5Embedder(),
    )
    assert again.model_dump() == analysis.model_dump()


@pytest.mark.parametrize("floor", [0, 1, 2])
def test_a_floor_under_three_is_refused(floor, labelled_answers):
    with pytest.raises(ValueError, match="never below 3"):
        analyse_offline(labelled_answers, min_group=floor)


def test_both_sides_negative_far_apart_is_still_agreement(embedder):
    question = "Do we really give the best customer experience in our field?"
    answers = [
        AnswerRecord(id=f"e{i}", question_id="q", question=question, role="executive", rating=r)
        for i, r in enumerate([3, 3, 2, 3, 2, 3])
    ] + [
        AnswerRecord(id=f"f{i}", question_id="q", question=question, role="frontline", rating=1)
        for i in range(8)
    ]
    result = analyse_offline(answers, min_group=5, embedder=embedder).questions[0]
    assert result.gap is not None and result.gap >= 1.0 and result.p_value < 0.05
    assert not result.diverges
    assert "not a contradiction" in result.note


def test_a_long_answer_is_quoted_up_to_a_sentence_boundary():
    text = "Customers leave because nobody calls them back. " * 12
    quote = excerpt(text)
    assert quote in text and quote.endswith(".") and len(quote) <= 300


def test_question_info_without_answers_is_not_invented(labelled_answers, embedder):
    extra = QuestionInfo(id="never-asked", text="Never asked?", low_label="no", high_label="yes")
    result = analyse_offline(labelled_answers, min_group=5, questions=[extra], embedder=embedder)
    assert "never-asked" not in {q.question_id for q in result.questions}
