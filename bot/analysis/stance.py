"""Where an answer stands on its question's scale, read from its words: the stance head.

Every question in the bank runs from an end where the company fails its customers
(1, "We process them") to one where it serves them (5, "We serve them"). An answer
given in words has no rating, so the offline engine reads one: a stance from -1 (the
low end) to 1 (the high end). Sentiment alone misreads the answers that matter most:
"new sign-ups get the launch discount, and loyal customers get the price rise" is
upbeat in tone and stands at the low end of "do we treat prospects better than our
customers?".

A `StanceHead` is a ridge regression over:

- the answer's sentence embedding (what it says);
- its element-wise product with the question's scale axis, the embedding of the
  high-end label minus that of the low-end label (what it says *about this scale*),
  and the sum of that product (its plain closeness to one end over the other);
- VADER's compound sentiment (how it says it).

It is trained on `data/stance-examples.yaml`: answers written for the bank's
questions, each with the rating a careful reader gives it, many of them the hard
cases (a low stance in friendly words, a high one in negative words). There is one
head per embedder, stored as plain JSON beside the examples and loaded without
pickle. `python -m bot.analysis.stance` trains the heads again and prints how well
each one reads the ratings of the development corpus's rated answers, which were
written separately and never trained on (the companies held out of tuning are left
out of the report too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
EXAMPLES = DATA / "stance-examples.yaml"
#: Ridge penalties tried when training; the one with the best cross-validated fit is kept.
ALPHAS = (0.3, 1.0, 3.0, 10.0)


def head_path(embedder_name: str, labelled: bool = True) -> Path:
    """Where a trained head of one embedder is kept: the one for questions with
    labelled scale ends, or the one for questions without."""
    return DATA / f"stance-head-{embedder_name}{'' if labelled else '-unlabelled'}.json"


def features(vectors: np.ndarray, axes: np.ndarray | None, sentiment: np.ndarray) -> np.ndarray:
    """The head's inputs, one row per answer: embedding, embedding × scale axis, the
    sum of that product, and sentiment. With no axes (questions without labelled
    ends), only the embedding and sentiment: what an answer says and how."""
    parts = [vectors]
    if axes is not None:
        product = vectors * axes
        parts += [product, product.sum(axis=1, keepdims=True)]
    return np.hstack(parts + [sentiment.reshape(-1, 1)]).astype(np.float64)


@dataclass(frozen=True)
class StanceHead:
    """A trained linear reader of stance for one embedder."""

    embedder: str
    weights: np.ndarray
    bias: float

    def read(
        self, vectors: np.ndarray, axes: np.ndarray | None, sentiment: np.ndarray
    ) -> np.ndarray:
        """Stances, -1..1, of answers with these embeddings, scale axes (None for a
        question without labelled ends, read by the unlabelled head) and sentiment."""
        if len(vectors) == 0:
            return np.zeros(0, dtype=np.float64)
        return self.read_features(features(vectors, axes, sentiment))

    def read_features(self, x: np.ndarray) -> np.ndarray:
        """Stances of rows already turned into `features`."""
        return np.clip(x @ self.weights + self.bias, -1.0, 1.0)

    def save(self, path: Path) -> None:
        path.write_text(
            json.dumps(
                {
                    "embedder": self.embedder,
                    "bias": round(float(self.bias), 6),
                    "weights": [round(float(w), 6) for w in self.weights],
                }
            )
            + "\n",
            encoding="utf-8",
        )

    @classmethod
    def load(cls, path: Path) -> StanceHead:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            embedder=str(data["embedder"]),
            weights=np.asarray(data["weights"], dtype=np.float64),
            bias=float(data["bias"]),
        )


#: Additions to VADER's lexicon (its scale: -4..4) for how people describe service.
CUSTOMER_SERVICE_LEXICON = {
    "slow": -1.5,
    "slower": -1.5,
    "late": -1.2,
    "delays": -1.5,
    "delayed": -1.3,
    "wait": -0.8,
    "waiting": -1.0,
    "waits": -1.0,
    "queue": -0.8,
    "bounced": -1.5,
    "overloaded": -1.5,
    "stretched": -1.0,
    "clunky": -1.5,
    "dated": -1.0,
    "behind": -0.8,
    "afterthought": -1.5,
    "churn": -1.5,
    "leave": -0.8,
    "leaving": -1.0,
    "quick": 1.0,
    "quickly": 1.0,
    "quicker": 1.2,
    "faster": 1.2,
    "smoother": 1.2,
}


_vader: object | None = None


@cache
def sentiment(text: str) -> float:
    """VADER's compound sentiment of a text, -1..1."""
    global _vader
    if _vader is None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        analyser = SentimentIntensityAnalyzer()
        # VADER is tuned on social media; workplace answers about customers say
        # "slow", "on hold" or "bounced around" where tweets say "awful".
        analyser.lexicon.update(CUSTOMER_SERVICE_LEXICON)
        _vader = analyser
    return float(_vader.polarity_scores(text)["compound"])  # type: ignore[attr-defined]


@cache
def head_for(embedder_name: str, labelled: bool = True) -> StanceHead | None:
    """The trained head of an embedder, for questions with labelled scale ends or
    without, or None when none was trained for it."""
    path = head_path(embedder_name, labelled)
    return StanceHead.load(path) if path.exists() else None


# --- training ------------------------------------------------------------------------------


def load_examples(path: Path = EXAMPLES) -> list[tuple[str, str, int]]:
    """(question id, answer text, rating 1-5) from the examples file."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    examples: list[tuple[str, str, int]] = []
    for question_id, lines in data.items():
        for line in lines:
            rating, _, text = str(line).partition("|")
            examples.append((question_id, text.strip(), int(rating.strip())))
    return examples


def _inputs(
    examples: list[tuple[str, str, int]],
    embedder: object,
    labels: dict[str, tuple[str, str]],
) -> dict[bool, np.ndarray]:
    """Feature rows of the examples, for the labelled head and the unlabelled one."""
    vectors = embedder.embed([text for _, text, _ in examples])  # type: ignore[attr-defined]
    axis = {q: scale_axis(embedder, *labels[q]) for q in {q for q, _, _ in examples}}
    axes = np.stack([axis[q] for q, _, _ in examples])
    tone = np.array([sentiment(text) for _, text, _ in examples])
    return {True: features(vectors, axes, tone), False: features(vectors, None, tone)}


def scale_axis(embedder: object, low: str, high: str) -> np.ndarray:
    """The high-end label's embedding minus the low-end one's."""
    low_vector, high_vector = embedder.embed([low, high])  # type: ignore[attr-defined]
    return np.asarray(high_vector - low_vector, dtype=np.float32)


def fit(embedder_name: str, x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> StanceHead:
    """Fit a head on feature rows `x` and stances `y` ((rating − 3) / 2): ridge
    regression, its penalty chosen by leave-one-out cross-validation."""
    from sklearn.linear_model import RidgeCV

    model = RidgeCV(alphas=ALPHAS).fit(x, y, sample_weight=weights)
    return StanceHead(embedder_name, model.coef_.astype(np.float64), float(model.intercept_))


def agreement(predicted: np.ndarray, ratings: np.ndarray) -> tuple[float, float, float]:
    """Spearman's rho with the ratings, the share of non-3 ratings on the right side of
    the middle, and the mean absolute error on the -1..1 scale."""
    from scipy.stats import spearmanr

    off_middle = ratings != 3
    return (
        float(spearmanr(predicted, ratings).statistic),
        float(np.mean((predicted[off_middle] > 0) == (ratings[off_middle] > 3))),
        float(np.mean(np.abs(predicted - (ratings - 3) / 2))),
    )


def main(argv: list[str] | None = None) -> int:
    """Train a head per shipped embedder, on the examples and on the rated answers of
    the development corpus's tuning companies, and report how well each reads the
    ratings of a company it was not trained on (leave one company out)."""
    import argparse

    from bot.analysis.embeddings import sentence_embedder, word_embedder
    from bot.core.questions import load_bank

    root = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--corpus", type=Path, default=root / "tests" / "analysis" / "corpus")
    parser.add_argument("--check", action="store_true", help="report only; keep the heads")
    args = parser.parse_args(argv)
    bank = load_bank(root / "prompts" / "questions.yaml")
    labels = {q.id: (q.low_label, q.high_label) for q in bank}
    examples = load_examples()
    rated = corpus_ratings(args.corpus, labels)
    rows = examples + [row for _, row in rated]
    weights = np.array([1.0] * len(examples) + [CORPUS_WEIGHT] * len(rated))
    company = np.array([""] * len(examples) + [c for c, _ in rated])
    y = np.array([(rating - 3) / 2 for _, _, rating in rows])
    corpus = company != ""
    for embedder in (sentence_embedder(), word_embedder()):
        inputs = _inputs(rows, embedder, labels)  # embedded once, sliced per fold
        for labelled, x in inputs.items():
            predicted = np.zeros(len(rows))
            for left_out in sorted(set(company) - {""}):
                fold = company == left_out
                head = fit(embedder.name, x[~fold], y[~fold], weights[~fold])
                predicted[fold] = head.read_features(x[fold])
            rho, side, error = agreement(
                predicted[corpus], np.array([row[2] for _, row in rated], dtype=np.float64)
            )
            print(
                f"{embedder.name}{'' if labelled else ' (no scale labels)'}: "
                f"{len(examples)} examples + {len(rated)} rated corpus answers; on a company "
                f"left out: rho={rho:.2f} right_side={side:.2f} mean_error={error:.2f}"
            )
            if not args.check:
                fit(embedder.name, x, y, weights).save(head_path(embedder.name, labelled))
    return 0


#: A corpus answer counts this many times an example: it is what a real round sounds like.
CORPUS_WEIGHT = 2.0


def corpus_ratings(corpus: Path, labels: dict) -> list[tuple[str, tuple[str, str, int]]]:
    """(company, (question id, text, rating)) for the rated answers of the corpus's
    tuning companies: never a company held out, never a flagged answer."""
    rows: list[tuple[str, tuple[str, str, int]]] = []
    for path in sorted(corpus.glob("*.labels.json")):
        gold = json.loads(path.read_text(encoding="utf-8"))
        if gold.get("held_out"):
            continue
        company = path.name.removesuffix(".labels.json")
        flagged = {i for ids in gold["flagged"].values() for i in ids}
        for line in (corpus / f"{company}.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            usable = row["text"].strip() and row["id"] not in flagged
            if usable and row["rating"] is not None and row["question_id"] in labels:
                rows.append((company, (row["question_id"], row["text"], int(row["rating"]))))
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
