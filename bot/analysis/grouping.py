"""How a question's answers are sorted into themes: the theme metric, and the clustering
in it (`group_by_meaning`).

A sentence encoder places answers by everything they say: the subject, but also the
tone, the length and the turn of phrase. Two frontline answers about the same broken
refund form, one angry and one resigned, can sit further apart than two answers about
different things said in the same tone. A person sorting answers into piles looks at
the subject first.

The metric is a linear map learned for that (linear discriminant analysis): on each
question's answers with the question's common ground taken off, it finds the directions
along which answers of different gold themes lie far apart while answers of one theme lie
close, and rescales them so that the spread within a theme is the same in every
direction. It learns from the development corpus's tuning companies and from
`data/theme-examples.yaml`: 130 rounds written for it, one fictional company's answers to
one question each, sorted into the points a person would make piles of, with everything
but the point varied within a pile (tone, length, form, side) and words shared across
piles. The offline engine groups each
question's answers in that space (`bot.analysis.offline`) by average-linkage clustering;
an embedder with no trained metric groups them on its own vectors. Beside the metric, a
paraphrase encoder (all-MiniLM-L6-v2, `bot.analysis.minilm`) places the same answers as
a second reader (`beside`): a different model trained on different sentence pairs, it
often knows one point made in other words where the sentence encoder, even in the
metric, does not (0.381 to 0.408 per question, each company left out of the metric).

It is stored as plain JSON beside the stance heads (`data/theme-metric-<embedder>.json`,
no pickle). `python -m bot.analysis.grouping` trains it again for each shipped
embedder and prints how well the engine's grouping matches the gold themes of a company
left out of the training, with the metric and without; a metric that does not help
there, on average and for more of its questions than it harms by more than chance would
(a sign test), is not kept. Word vectors: 0.286 to 0.305, 96 questions better and 84 worse,
as chance gives one time in five (and 0.47 to 0.46 on the held-out companies), so only the
sentence encoder has one.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from functools import cache
from pathlib import Path

import numpy as np

from bot.analysis.stance import DATA, tuning_answers

#: A question has at most this many themes.
MAX_THEMES_PER_QUESTION = 6
#: A question is split into at most one theme per this many answers.
ANSWERS_PER_THEME = 4
#: A theme needs at least this many answers (the smallest group the floor ever allows).
MIN_THEME_ANSWERS = 3
#: Below this silhouette a split into themes is noise: the question has one theme.
MIN_SILHOUETTE = 0.02
#: Themes are found on at most this many texts per question; the rest join the nearest.
THEME_SAMPLE = 1000
#: A metric is kept when it groups more questions of a company left out of its training
#: better than worse, and a sign test says chance would do so less often than this.
KEEP_P = 0.05
#: Rounds written to teach the metric what a theme is (`load_examples`).
EXAMPLES = DATA / "theme-examples.yaml"
#: The metric keeps this many directions, the ones that tell themes apart best.
DIMENSIONS = 96
#: Ridge added to the spread within themes (trace 1), so that a direction the corpus
#: barely spans is not blown up.
RIDGE = 0.01
#: How much the written rounds count beside the corpus's (each spread scaled to trace 1).
#: These three were chosen on the tuning companies, each left out of the training.
EXAMPLES_WEIGHT = 2.0
#: How much the paraphrase encoder's closeness counts beside the metric's (`beside`).
#: Chosen on the tuning companies, each left out of the metric's training.
PARAPHRASE_WEIGHT = 0.3
#: What a gold sorting leaves out: not a theme of the question.
NOT_A_THEME = frozenset({"junk", "off-topic", "injection", "-"})
#: A question's answers teach the metric only when there are this many of them.
MIN_ANSWERS = 6


def most_themes(answers: int) -> int:
    """How many themes a question of this many answers may have at most: a person reading
    twelve answers sorts them into two or three piles, not six."""
    return max(2, min(MAX_THEMES_PER_QUESTION, answers // ANSWERS_PER_THEME))


def group_by_meaning(
    vectors: np.ndarray, max_k: int = MAX_THEMES_PER_QUESTION, seed: int = 0
) -> np.ndarray:
    """Group unit vectors as a person would sort answers: average-linkage clustering on
    cosine distance, the number of groups chosen by silhouette (one group when no split
    is clearly better). Large inputs are clustered on a fixed-seed sample and the rest
    joins the nearest group, so the cost stays linear in the number of answers."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist, squareform
    from sklearn.metrics import silhouette_score

    n = len(vectors)
    one_group = np.zeros(n, dtype=np.int64)
    if n < 2 * MIN_THEME_ANSWERS:
        return one_group
    rng = np.random.default_rng(seed)
    sample = np.arange(n) if n <= THEME_SAMPLE else np.sort(rng.choice(n, THEME_SAMPLE, False))
    points = np.asarray(vectors[sample], dtype=np.float64)
    # One tree, cut at each k: the linkage is the costly part, so it is built once.
    distances = np.clip(pdist(points, metric="cosine"), 0.0, 2.0)
    tree = linkage(distances, method="average")
    square = squareform(distances)
    best: tuple[float, np.ndarray] | None = None
    for k in range(2, min(max_k, len(points) // MIN_THEME_ANSWERS) + 1):
        labels = fcluster(tree, k, criterion="maxclust") - 1
        if len(set(labels.tolist())) < 2:
            continue
        score = float(silhouette_score(square, labels, metric="precomputed"))
        if best is None or score > best[0] + 1e-9:
            best = (score, labels)
    if best is None or best[0] < MIN_SILHOUETTE:
        return one_group
    if n <= THEME_SAMPLE:
        return best[1].astype(np.int64)
    groups = sorted(set(best[1].tolist()))
    centroids = unit(np.stack([points[best[1] == c].mean(axis=0) for c in groups]))
    return _nearest(np.asarray(vectors, dtype=np.float32), centroids.astype(np.float32))


def _nearest(vectors: np.ndarray, centroids: np.ndarray, chunk: int = 20000) -> np.ndarray:
    parts = [
        np.argmax(vectors[i : i + chunk] @ centroids.T, axis=1)
        for i in range(0, len(vectors), chunk)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms == 0, 1.0, norms)).astype(np.float32)


def metric_path(embedder_name: str) -> Path:
    return DATA / f"theme-metric-{embedder_name}.json"


@cache
def metric_for(embedder_name: str) -> np.ndarray | None:
    """The embedder's trained metric (a dimensions × kept matrix), or None."""
    path = metric_path(embedder_name)
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return np.asarray(data["matrix"], dtype=np.float32)


def centred(vectors: np.ndarray) -> np.ndarray:
    """Unit vectors with their mean (a question's common ground) taken off."""
    vectors = np.asarray(vectors, dtype=np.float64)
    return unit(vectors - vectors.mean(axis=0))


def in_metric(vectors: np.ndarray, metric: np.ndarray | None) -> np.ndarray:
    """A question's answer vectors (its common ground already off) as the theme metric
    places them: mapped, centred again and made unit. Unchanged without a metric."""
    if metric is None:
        return vectors
    return centred(np.asarray(vectors, dtype=np.float64) @ metric)


def beside(
    vectors: np.ndarray, other: np.ndarray | None, weight: float = PARAPHRASE_WEIGHT
) -> np.ndarray:
    """A question's answers as two readers place them together: `vectors` (unit, already
    centred) beside `other` (the same answers as a second encoder reads them, centred
    here), weighted so that the cosine of two joined rows is `1 - weight` times the first
    reader's cosine plus `weight` times the second's. Unchanged without a second reader."""
    if other is None:
        return vectors
    return np.hstack(
        [
            math.sqrt(1.0 - weight) * np.asarray(vectors, dtype=np.float64),
            math.sqrt(weight) * np.asarray(centred(other), dtype=np.float64),
        ]
    )


def fit(
    questions: list[tuple[np.ndarray, list[str]]],
    examples: list[tuple[np.ndarray, list[str]]] = (),  # type: ignore[assignment]
    weight: float = EXAMPLES_WEIGHT,
    dimensions: int = DIMENSIONS,
    ridge: float = RIDGE,
) -> np.ndarray:
    """The metric for these questions, each (its centred answer vectors, each answer's gold
    theme), and for the written example rounds, which count `weight` times as much."""
    from scipy.linalg import eigh

    within, between = _spread(questions)
    if examples:
        example_within, example_between = _spread(examples)
        within, between = within + weight * example_within, between + weight * example_between
    _, directions = eigh(between, within + ridge * np.eye(len(within)))
    return directions[:, ::-1][:, :dimensions]


def _spread(questions: list[tuple[np.ndarray, list[str]]]) -> tuple[np.ndarray, np.ndarray]:
    """The spread of answers within their themes, and of the themes' centres, each scaled
    to trace 1."""
    size = questions[0][0].shape[1]
    within = np.zeros((size, size))
    between = np.zeros((size, size))
    for vectors, themes in questions:
        gold = np.asarray(themes)
        for theme in set(themes):
            members = np.asarray(vectors[gold == theme], dtype=np.float64)
            mean = members.mean(axis=0)
            within += (members - mean).T @ (members - mean)
            between += len(members) * np.outer(mean, mean)
    return within / np.trace(within), between / np.trace(between)


def load_examples(path: Path = EXAMPLES) -> list[list[tuple[str, str]]]:
    """The written example rounds: each a list of (answer text, its point)."""
    import yaml

    rounds = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        [(str(text), point["point"]) for point in r["points"] for _, text in point["answers"]]
        for r in rounds
    ]


def save(metric: np.ndarray, embedder_name: str, path: Path) -> None:
    path.write_text(
        json.dumps(
            {
                "embedder": embedder_name,
                "matrix": [[float(f"{x:.5g}") for x in row] for row in metric.tolist()],
            }
        )
        + "\n",
        encoding="utf-8",
    )


def gold_questions(corpus: Path) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(company, question id) → [(text, gold theme)] for the tuning companies' usable
    answers that belong to a theme of their question."""
    questions: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for company, gold, row in tuning_answers(corpus):
        theme = gold["themes"].get(row["id"])
        if theme and theme not in NOT_A_THEME:
            questions[(company, row["question_id"])].append((row["text"], theme))
    return {key: rows for key, rows in questions.items() if len(rows) >= MIN_ANSWERS}


def _placed(
    rows: list[tuple[str, str]], vectors: np.ndarray, index: dict[str, int]
) -> tuple[np.ndarray, list[str]]:
    """A question's (text, theme) rows as the metric is taught them: centred vectors, themes."""
    return centred(vectors[[index[t] for t, _ in rows]]), [theme for _, theme in rows]


def main(argv: list[str] | None = None) -> int:
    """Train the theme metric of each shipped embedder on the gold themes of the corpus's
    tuning companies, and report the engine's grouping of a company left out of the
    training: its adjusted Rand index against the gold themes, question by question,
    with the metric and without."""
    import argparse

    from scipy.stats import binomtest
    from sklearn.metrics import adjusted_rand_score

    from bot.analysis.embeddings import second_reader, sentence_embedder, word_embedder

    root = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--corpus", type=Path, default=root / "tests" / "analysis" / "corpus")
    parser.add_argument("--check", action="store_true", help="report only; keep the metrics")
    args = parser.parse_args(argv)
    questions = gold_questions(args.corpus)
    examples = load_examples()
    texts = sorted(
        {text for rows in questions.values() for text, _ in rows}
        | {text for rows in examples for text, _ in rows}
    )
    index = {t: i for i, t in enumerate(texts)}
    for embedder in (sentence_embedder(), word_embedder()):
        vectors = np.asarray(embedder.embed(texts), dtype=np.float64)

        taught = {key: _placed(rows, vectors, index) for key, rows in questions.items()}
        written = [_placed(rows, vectors, index) for rows in examples]
        # Themes are sorted with the second reader the engine gives this embedder's rounds.
        second = second_reader(embedder)
        said = sorted({text for rows in questions.values() for text, _ in rows})
        paraphrased = dict(zip(said, second.embed(said), strict=True)) if second else {}
        scores: dict[str, list[float]] = defaultdict(list)
        for company in sorted({c for c, _ in taught}):
            others = [q for (c, _), q in taught.items() if c != company]
            metrics = {"own": None, "corpus": fit(others), "metric": fit(others, written)}
            for (c, q), (points, themes) in taught.items():
                if c != company:
                    continue
                most = most_themes(len(themes))
                for name, metric in metrics.items():
                    grouped = group_by_meaning(in_metric(points, metric), most)
                    scores[name].append(adjusted_rand_score(themes, grouped))
                if paraphrased:
                    read = np.stack([paraphrased[text] for text, _ in questions[(c, q)]])
                    joined = beside(in_metric(points, metrics["metric"]), read)
                    grouped = group_by_meaning(joined, most)
                    scores["beside"].append(adjusted_rand_score(themes, grouped))
        plain, learned = scores["own"], scores["metric"]
        better = sum(b > a + 1e-9 for a, b in zip(plain, learned, strict=True))
        worse = sum(b < a - 1e-9 for a, b in zip(plain, learned, strict=True))
        chance = binomtest(better, better + worse, alternative="greater").pvalue
        print(
            f"{embedder.name}: {len(taught)} questions of {len({c for c, _ in taught})} "
            f"companies, and {len(written)} written rounds; on a company left out, grouping "
            f"ARI {np.mean(plain):.3f} on the embedder's own vectors, "
            f"{np.mean(scores['corpus']):.3f} with a metric of the corpus alone, "
            f"{np.mean(learned):.3f} with the metric "
            f"({better} questions better, {worse} worse: sign test p {chance:.2g})"
            + (
                f", {np.mean(scores['beside']):.3f} with the paraphrase encoder beside it"
                if scores["beside"]
                else ""
            )
        )
        if args.check:
            continue
        # A metric that does not help on a company it never saw, on average and for more
        # of its questions than it harms by more than chance would, is not kept.
        if np.mean(learned) > np.mean(plain) and chance < KEEP_P:
            save(fit(list(taught.values()), written), embedder.name, metric_path(embedder.name))
        else:
            metric_path(embedder.name).unlink(missing_ok=True)
            print(f"{embedder.name}: no metric kept; its own vectors group as well")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
