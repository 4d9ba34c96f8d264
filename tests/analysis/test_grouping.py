"""The theme metric: answers grouped by what they are about, not by how they are said."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import adjusted_rand_score

from bot.analysis.grouping import centred, fit, group_by_meaning, in_metric, metric_for


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
    # Word vectors grouped no better with a metric on companies left out of its training.
    metric = metric_for("multilingual-e5-small-q4")
    assert metric is not None and metric.shape == (384, 128)
    assert np.isfinite(metric).all()
    assert metric_for("wordllama-l2-256") is None
