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
- with labelled scale ends, the embedding's element-wise product with the question's
  scale axis (the high-end label's embedding minus the low-end one's) and the sum of
  that product (what it says *about this scale*);
- VADER's compound sentiment (how it says it);
- its words and two-word phrases, TF-IDF weighted ("only if", "in practice",
  "nobody", "if they ask": the turns that carry a stance against the tone).

It is trained on `data/stance-examples.yaml`, answers written for the bank's
questions, each with the rating a careful reader gives it, many of them hard cases
(a low stance in friendly words, a high one in negative words), and on the answers of
the development corpus's tuning companies: the ratings people gave, and for answers in
words, the rating a reader gave each one without seeing who wrote it or the company's
gold labels (`corpus/readings.yaml`). Each embedder has two heads,
for questions with labelled ends and without, stored as plain JSON beside the
examples (weights, phrase vocabulary and IDF; no pickle). `python -m
bot.analysis.stance` trains them again and prints how well each reads the ratings of
a corpus company it was not trained on.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
from scipy import sparse

DATA = Path(__file__).resolve().parent / "data"
EXAMPLES = DATA / "stance-examples.yaml"
#: The ridge penalty, chosen by leaving one corpus company out at a time.
ALPHA = 1.0
#: The weight of the phrase features beside the embedding.
PHRASE_WEIGHT = 0.5
#: A phrase is in the vocabulary when this many training answers use it.
PHRASE_MIN_ANSWERS = 3
#: A corpus answer counts this many times an example: it is what a real round sounds like.
CORPUS_WEIGHT = 2.0
#: Beside the corpus's exports: a reader's rating for each tuning company's text answers.
READINGS = "readings.yaml"
#: sklearn's default token: two or more word characters.
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
#: An answer that opens with a bare yes, or a bare no (`phrases`). An emphatic word
#: before a "not" is a no: "Absolutely not." answers "does our loyalty end once they
#: have paid?" at its high end.
_EMPHATIC = r"definitely|absolutely|certainly|of course|sure|surely|mostly|largely|totally"
_LEAD_YES = re.compile(
    r"^\W*(?:yes|yeah|yep|yup|" + _EMPHATIC + r"|pretty much|always)\b(?![\s,.!]*not\b)",
    re.I,
)
_LEAD_NO = re.compile(
    r"^\W*(?:no|nope|nah|not really|not at all|not much|not enough|not even close|hardly|"
    r"never|rarely|far from it|(?:" + _EMPHATIC + r")[\s,.!]*not)\b",
    re.I,
)


def head_path(embedder_name: str, labelled: bool = True) -> Path:
    """Where a trained head of one embedder is kept: the one for questions with
    labelled scale ends, or the one for questions without."""
    return DATA / f"stance-head-{embedder_name}{'' if labelled else '-unlabelled'}.json"


def phrases(text: str, question_id: str | None = None) -> list[str]:
    """An answer's words and two-word phrases, lower case (as sklearn's TF-IDF reads them).

    Given its question, also whether it opens with a bare yes or no, for that question
    (`yes@call-us-first`): "Yes." is the high end of "do they call us first?" and the
    low end of "does our loyalty end once they have paid?", so the head learns what a
    yes means question by question. A terse answer often says little else."""
    words = _TOKEN.findall(text.lower())
    found = words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    if question_id:
        lead = "yes" if _LEAD_YES.match(text) else "no" if _LEAD_NO.match(text) else None
        if lead:
            found.append(f"{lead}@{question_id}")
    return found


@dataclass(frozen=True)
class Phrases:
    """A phrase vocabulary with its IDF: sublinear TF-IDF rows, L2-normalised."""

    vocabulary: dict[str, int]
    idf: np.ndarray

    def rows(self, texts: list[str], questions: list[str] | None = None) -> sparse.csr_matrix:
        """One sparse row per text: a row holds only the phrases that text uses (with
        the texts' question ids, `phrases` adds an opening yes or no per question)."""
        data: list[float] = []
        columns: list[int] = []
        starts = [0]
        for text, question_id in zip(texts, questions or [None] * len(texts), strict=True):
            found = [
                (self.vocabulary[p], (1.0 + math.log(n)) * self.idf[self.vocabulary[p]])
                for p, n in Counter(phrases(text, question_id)).items()
                if p in self.vocabulary
            ]
            norm = math.sqrt(sum(v * v for _, v in found)) or 1.0
            columns += [j for j, _ in found]
            data += [v / norm for _, v in found]
            starts.append(len(data))
        return sparse.csr_matrix(
            (np.array(data), np.array(columns, dtype=np.int64), np.array(starts)),
            shape=(len(texts), len(self.vocabulary)),
        )

    @classmethod
    def learn(cls, texts: list[str], questions: list[str] | None = None) -> Phrases:
        """Vocabulary and smooth IDF of the phrases at least `PHRASE_MIN_ANSWERS` texts use."""
        pairs = zip(texts, questions or [None] * len(texts), strict=True)
        used = Counter(p for text, question_id in pairs for p in set(phrases(text, question_id)))
        kept = sorted(p for p, n in used.items() if n >= PHRASE_MIN_ANSWERS)
        idf = np.array([math.log((1 + len(texts)) / (1 + used[p])) + 1.0 for p in kept])
        return cls({p: i for i, p in enumerate(kept)}, idf)


def features(vectors: np.ndarray, axes: np.ndarray | None, tone: np.ndarray) -> np.ndarray:
    """The head's dense inputs, one row per answer: embedding, [embedding × scale axis
    and its sum, with labelled ends], and sentiment. The phrase rows follow them."""
    parts = [np.asarray(vectors, dtype=np.float64)]
    if axes is not None:
        product = parts[0] * axes
        parts += [product, product.sum(axis=1, keepdims=True)]
    return np.hstack(parts + [np.asarray(tone, dtype=np.float64).reshape(-1, 1)])


def with_phrases(dense: np.ndarray, phrase_rows: sparse.csr_matrix) -> sparse.csr_matrix:
    """All of a head's inputs: the dense features, then the weighted phrase rows."""
    return sparse.hstack([sparse.csr_matrix(dense), PHRASE_WEIGHT * phrase_rows]).tocsr()


@dataclass(frozen=True)
class StanceHead:
    """A trained linear reader of stance for one embedder."""

    embedder: str
    weights: np.ndarray
    bias: float
    phrases: Phrases

    def read(
        self,
        texts: list[str],
        vectors: np.ndarray,
        axes: np.ndarray | None,
        questions: list[str] | None = None,
    ) -> np.ndarray:
        """Stances, -1..1, of these answers, given their embeddings, scale axes (None
        for a question without labelled ends, read by the unlabelled head) and, when
        known, their question ids."""
        if not texts:
            return np.zeros(0, dtype=np.float64)
        tone = np.array([sentiment(t) for t in texts])
        dense = features(vectors, axes, tone)
        return self.read_features(with_phrases(dense, self.phrases.rows(texts, questions)))

    def read_features(self, x: np.ndarray | sparse.csr_matrix) -> np.ndarray:
        """Stances of rows already turned into features (`with_phrases`)."""
        return np.clip(self.linear(x), -1.0, 1.0)

    def linear(self, x: np.ndarray | sparse.csr_matrix) -> np.ndarray:
        """The linear part alone, unclipped (a classifier's log-odds: `offtopic`)."""
        return np.asarray(x @ self.weights).ravel() + self.bias

    def save(self, path: Path) -> None:
        vocabulary = sorted(self.phrases.vocabulary, key=self.phrases.vocabulary.__getitem__)
        path.write_text(
            json.dumps(
                {
                    "embedder": self.embedder,
                    "bias": round(float(self.bias), 6),
                    "weights": [round(float(w), 6) for w in self.weights],
                    "phrases": vocabulary,
                    "idf": [round(float(v), 6) for v in self.phrases.idf],
                },
                ensure_ascii=False,
            )
            + "\n",
            encoding="utf-8",
        )

    @classmethod
    def load(cls, path: Path) -> StanceHead:
        data = json.loads(path.read_text(encoding="utf-8"))
        vocabulary = {p: i for i, p in enumerate(data["phrases"])}
        return cls(
            embedder=str(data["embedder"]),
            weights=np.asarray(data["weights"], dtype=np.float64),
            bias=float(data["bias"]),
            phrases=Phrases(vocabulary, np.asarray(data["idf"], dtype=np.float64)),
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


@lru_cache(maxsize=100_000)
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


def scale_axis(embedder: object, low: str, high: str) -> np.ndarray:
    """The high-end label's embedding minus the low-end one's."""
    low_vector, high_vector = embedder.embed([low, high])  # type: ignore[attr-defined]
    return np.asarray(high_vector - low_vector, dtype=np.float32)


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


@dataclass
class _Training:
    """Everything a head is fitted on, embedded once for every fold."""

    rows: list[tuple[str, str, int]]
    company: np.ndarray  # "" for an example, else the corpus company the answer is from
    weights: np.ndarray
    stances: np.ndarray
    dense: dict[bool, np.ndarray]  # labelled -> embedding (and axis) features and tone

    def fit(self, embedder_name: str, labelled: bool, keep: np.ndarray) -> StanceHead:
        """A head on the rows in `keep`: ridge regression of (rating − 3) / 2."""
        from sklearn.linear_model import Ridge

        texts = [self.rows[i][1] for i in np.flatnonzero(keep)]
        questions = [self.rows[i][0] for i in np.flatnonzero(keep)]
        vocabulary = Phrases.learn(texts, questions)
        x = with_phrases(self.dense[labelled][keep], vocabulary.rows(texts, questions))
        model = Ridge(alpha=ALPHA).fit(x, self.stances[keep], sample_weight=self.weights[keep])
        return StanceHead(
            embedder_name, model.coef_.astype(np.float64), float(model.intercept_), vocabulary
        )


def _training(embedder: object, rows: list, company: list[str], labels: dict) -> _Training:
    texts = [text for _, text, _ in rows]
    vectors = np.asarray(embedder.embed(texts), dtype=np.float64)  # type: ignore[attr-defined]
    axis = {q: scale_axis(embedder, *labels[q]) for q in {q for q, _, _ in rows}}
    axes = np.stack([axis[q] for q, _, _ in rows])
    tone = np.array([sentiment(t) for t in texts])
    return _Training(
        rows=rows,
        company=np.array(company),
        weights=np.array([1.0 if c == "" else CORPUS_WEIGHT for c in company]),
        stances=np.array([(rating - 3) / 2 for _, _, rating in rows], dtype=np.float64),
        dense={True: features(vectors, axes, tone), False: features(vectors, None, tone)},
    )


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
    """Train both heads of each shipped embedder, on the examples and on the rated
    answers of the development corpus's tuning companies, and report how well each
    reads the ratings of a company it was not trained on (leave one company out): the
    ratings people gave, and the ratings a reader gave their answers in words."""
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
    readings = corpus_readings(args.corpus)
    rated = corpus_ratings(args.corpus, labels, readings)
    rows = examples + [row for _, row in rated]
    company = [""] * len(examples) + [c for c, _ in rated]
    ratings = np.array([row[2] for _, row in rated], dtype=np.float64)
    read = np.array([(c, q, text.strip()) in readings for c, (q, text, _) in rated])
    for embedder in (sentence_embedder(), word_embedder()):
        training = _training(embedder, rows, company, labels)
        in_corpus = training.company != ""
        for labelled in (True, False):
            predicted = np.zeros(len(rows))
            for left_out in sorted(set(company) - {""}):
                fold = training.company == left_out
                head = training.fit(embedder.name, labelled, ~fold)
                texts = [rows[i][1] for i in np.flatnonzero(fold)]
                questions = [rows[i][0] for i in np.flatnonzero(fold)]
                x = with_phrases(
                    training.dense[labelled][fold], head.phrases.rows(texts, questions)
                )
                predicted[fold] = head.read_features(x)
            left_out_reads = predicted[in_corpus]
            figures = []
            for whose, part in (("their own ratings", ~read), ("read in words", read)):
                if part.any():
                    rho, side, error = agreement(left_out_reads[part], ratings[part])
                    figures.append(
                        f"{whose} ({int(part.sum())}): rho={rho:.2f} right_side={side:.2f} "
                        f"mean_error={error:.2f}"
                    )
            print(
                f"{embedder.name}{'' if labelled else ' (no scale labels)'}: "
                f"{len(examples)} examples + {len(rated)} corpus answers; on a company left "
                f"out, {'; '.join(figures)}"
            )
            if not args.check:
                everything = np.ones(len(rows), dtype=bool)
                training.fit(embedder.name, labelled, everything).save(
                    head_path(embedder.name, labelled)
                )
    return 0


def tuning_answers(corpus: Path) -> Iterator[tuple[str, dict, dict]]:
    """(company, its gold labels, answer row) for every usable answer of the corpus's
    tuning companies: never a company held out, never a flagged or empty answer."""
    for path in sorted(corpus.glob("*.labels.json")):
        gold = json.loads(path.read_text(encoding="utf-8"))
        if gold.get("held_out"):
            continue
        company = path.name.removesuffix(".labels.json")
        flagged = {i for ids in gold["flagged"].values() for i in ids}
        for line in (corpus / f"{company}.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row["text"].strip() and row["id"] not in flagged:
                yield company, gold, row


def corpus_readings(corpus: Path) -> dict[tuple[str, str, str], int]:
    """The rating a careful reader gave each text answer of the corpus's tuning companies,
    keyed (company, question id, text), from `readings.yaml` beside the exports."""
    import yaml

    path = corpus / READINGS
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {
        (company, question_id, text.strip()): int(rating.strip())
        for company, questions in data.items()
        for question_id, lines in questions.items()
        for rating, _, text in (str(line).partition("|") for line in lines)
    }


def corpus_ratings(
    corpus: Path, labels: dict, readings: dict[tuple[str, str, str], int] | None = None
) -> list[tuple[str, tuple[str, str, int]]]:
    """(company, (question id, text, rating)) for the answers of the corpus's tuning
    companies (`tuning_answers`) to the bank's questions: the rating the person gave, or
    for an answer in words, the one a reader gave it (`readings`, read from the corpus
    by `corpus_readings` unless given)."""
    if readings is None:
        readings = corpus_readings(corpus)
    rated: list[tuple[str, tuple[str, str, int]]] = []
    for company, _, row in tuning_answers(corpus):
        question_id, text = row["question_id"], row["text"]
        rating = row["rating"]
        if rating is None:
            rating = readings.get((company, question_id, text.strip()))
        if rating is not None and question_id in labels:
            rated.append((company, (question_id, text, int(rating))))
    return rated


if __name__ == "__main__":
    raise SystemExit(main())
