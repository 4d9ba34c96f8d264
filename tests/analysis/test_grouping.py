"""The theme metric: answers grouped by what they are about, not by how they are said."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml
from sklearn.metrics import adjusted_rand_score

from bot.analysis.grouping import (
    EXAMPLES,
    centred,
    fit,
    group_by_meaning,
    in_metric,
    load_examples,
    metric_for,
)

ROOT = Path(__file__).resolve().parents[2]


def _question(rng: np.random.Generator, size: int = 24) -> tuple[np.ndarray, list[str]]:
    """Answers of two themes set apart along one quiet direction, while tone (angry or
    resigned, either theme) sets them far apart along a loud one, plus noise."""
    themes = [("refunds", "delivery")[i % 2] for i in range(size)]
    tone = rng.permutation([1.0, -1.0] * (size // 2))
    vectors = rng.normal(0.0, 0.15, (size, 16))
    vectors[:, 0] += 3.0 * tone
    vectors[:, 1] += np.array([0.6 if t == "refunds" else -0.6 for t in themes])
    return centred(vectors), themes


def test_the_metric_groups_answers_by_theme_where_tone_would_split_them():
    rng = np.random.default_rng(7)
    metric = fit([_question(rng) for _ in range(12)], dimensions=4, ridge=0.01)
    points, themes = _question(rng)

    by_tone = adjusted_rand_score(themes, group_by_meaning(points, 4))
    by_theme = adjusted_rand_score(themes, group_by_meaning(in_metric(points, metric), 4))

    assert by_tone < 0.2
    assert by_theme > 0.9


def test_without_a_metric_the_vectors_are_grouped_as_they_are():
    points, _ = _question(np.random.default_rng(1))
    assert in_metric(points, None) is points


def test_the_sentence_encoder_ships_a_metric_and_word_vectors_do_not():
    # Word vectors grouped no better with a metric on companies left out of its training
    # than chance would (96 questions better, 84 worse), so they have none.
    metric = metric_for("multilingual-e5-small-q4")
    assert metric is not None and metric.shape == (384, 96)
    assert np.isfinite(metric).all()
    assert metric_for("wordllama-l2-256") is None


def test_the_written_rounds_are_rounds_of_the_bank_that_never_repeat_a_corpus_answer():
    bank = {
        q["id"]
        for q in yaml.safe_load((ROOT / "prompts" / "questions.yaml").read_text())["questions"]
    }
    rounds = yaml.safe_load(EXAMPLES.read_text(encoding="utf-8"))
    assert {r["question"] for r in rounds} == bank
    for r in rounds:
        assert len(r["points"]) >= 4, r["company"]
        for point in r["points"]:
            assert len(point["answers"]) >= 5, point["point"]
            assert {side for side, _ in point["answers"]} <= {"executive", "frontline"}
    texts = [text.strip().casefold() for rows in load_examples() for text, _ in rows]
    assert len(texts) == len(set(texts))
    corpus = {
        json.loads(line)["text"].strip().casefold()
        for path in (ROOT / "tests" / "analysis" / "corpus").glob("*.jsonl")
        for line in path.read_text(encoding="utf-8").splitlines()
    }
    assert not corpus & set(texts)


def test_theme_vectors_place_each_answer_in_its_question_s_theme_space(embedder):
    """What the LLM engine assigns a theme's members by: each answer in the space its
    question's themes are sorted in, one unit vector per answer, the same for the same
    words; a question of one distinct text keeps the embedder's own vector."""
    from bot.analysis.models import AnswerRecord
    from bot.analysis.offline import theme_vectors

    def answer(n: int, question: str, text: str) -> AnswerRecord:
        return AnswerRecord(
            id=f"a{n}", question_id=question, question=question, role="frontline", text=text
        )

    texts = [
        "The refund form loses half the claims we send.",
        "Refund claims vanish somewhere in the form, sadly.",
        "Customers can never find a parking space.",
        "Parking is impossible near the shop.",
        "Parking is impossible near the shop.",
    ]
    answers = [answer(n, "q1", t) for n, t in enumerate(texts)]
    answers.append(answer(9, "q2", "We call them back within the hour."))
    placed = theme_vectors(answers, embedder)

    assert set(placed) == {a.id for a in answers}
    for vector in placed.values():
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
    assert np.array_equal(placed["a3"], placed["a4"])
    lone = np.asarray(embedder.embed(["We call them back within the hour."])[0])
    assert np.allclose(placed["a9"], lone / np.linalg.norm(lone), atol=1e-5)
    # Same point, other words: nearer each other than to the other point.
    assert placed["a0"] @ placed["a1"] > max(
        placed["a0"] @ placed["a2"], placed["a0"] @ placed["a3"]
    )
