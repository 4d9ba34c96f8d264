"""The quality benchmark's evaluation on the development corpus, as a test.

`benchmarks/quality.py` scores the offline engine on fictional companies written by
hand (`tests/analysis/corpus/`). The companies used for tuning must keep what they
reached; the held-out ones (never looked at while tuning) are held to the issue's
aims: divergence F1 1.0, theme ARI at least 0.7, every quote verbatim, no floor leak.
An aim not met yet is a strict xfail naming the figure, so the day it is met the
test says so.
"""

from __future__ import annotations

import json

import pytest

from benchmarks.quality import CORPUS, companies, evaluate, held_out, question_infos, totals

pytestmark = pytest.mark.slow  # the whole corpus through the engine: about ten seconds


@pytest.fixture(scope="module")
def scores():
    return {name: evaluate(name) for name in companies()}


def test_the_corpus_is_big_and_varied_enough():
    names = companies()
    assert len(names) >= 4
    assert sum(held_out(n) for n in names) >= 2
    answers = 0
    for name in names:
        labels = json.loads((CORPUS / f"{name}.labels.json").read_text(encoding="utf-8"))
        lines = (CORPUS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        rows = [json.loads(line) for line in lines]
        answers += len(rows)
        assert len(labels["questions"]) >= 6
        kinds = {q["kind"] for q in labels["questions"].values()}
        assert {"rated", "text"} <= kinds | {"mixed"} and kinds & {"text", "mixed"}
        # A text question that does not diverge, an injection, a group under the floor.
        assert any(q["kind"] != "rated" and not q["diverges"] for q in labels["questions"].values())
        assert len(labels["flagged"]["injection"]) == 1 and labels["hidden"]
        texts = [r["text"] for r in rows]
        assert len(set(texts)) == len(texts), f"{name} repeats an answer word for word"
    assert answers >= 300


def test_every_quote_is_verbatim_and_nothing_leaks(scores):
    for score in scores.values():
        assert score.quotes and score.quotes_verbatim == score.quotes, score.line()
        assert score.floor_leaks == 0, score.line()


def test_the_tuning_companies_keep_what_they_reached(scores):
    tuning = [s for s in scores.values() if not s.held_out]
    figures = totals(tuning)
    # 48 of 51 contradictions found and none invented, at 14 companies. The misses are
    # ironic or deadpan frontline answers. (Marlow's executives criticising themselves
    # calmly are read near the middle: a contradiction was invented there until the
    # frontline's parking-permit aside stopped counting as its voice.)
    lines = [s.line() for s in tuning]
    assert figures.divergence_f1 >= 0.95, lines
    assert all(s.false_positives == 0 for s in tuning), lines
    assert figures.theme_ari >= 0.55, lines


@pytest.mark.xfail(
    strict=True,
    reason="held out: 2 of 17 contradictions are missed (divergence F1 0.94, no false one); "
    "the stance head reads the right side of the middle for about 6 answers in 7",
)
def test_held_out_contradictions_are_all_found(scores):
    figures = totals([s for s in scores.values() if s.held_out])
    assert figures.divergence_f1 == 1.0


@pytest.mark.xfail(
    strict=True, reason="held out: theme ARI 0.56 against the aim of 0.7 (tuning: 0.57)"
)
def test_held_out_themes_match_a_persons_grouping(scores):
    figures = totals([s for s in scores.values() if s.held_out])
    assert figures.theme_ari >= 0.7


def test_held_out_contradictions_found_are_real(scores):
    """Precision holds on the held-out companies: no contradiction is invented."""
    for score in scores.values():
        if score.held_out:
            assert score.false_positives == 0, score.line()


def test_no_contradiction_quotes_an_answer_off_the_subject():
    """An aside about the staff car park never speaks for a side, at any company."""
    from bot.analysis.engine import analyse
    from bot.analysis.loader import load_answers

    for name in companies():
        labels = json.loads((CORPUS / f"{name}.labels.json").read_text(encoding="utf-8"))
        answers = load_answers(CORPUS / f"{name}.jsonl")
        asides = {a.text for a in answers if labels["themes"].get(a.id) == "off-topic"}
        infos = question_infos(labels, answers)
        analysis = analyse(answers, min_group=labels["min_group"], questions=infos)
        for contradiction in analysis.contradictions:
            for quote in contradiction.executive_quotes + contradiction.frontline_quotes:
                assert not any(quote.text in aside for aside in asides), (name, quote.text)
