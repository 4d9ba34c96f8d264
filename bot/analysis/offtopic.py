"""Answers off the subject: the staff car park, typed into a customer-loyalty check-in.

Someone answering "do we treat prospects better than our customers?" with "Can someone
sort the parking permits?" has said something, but not about customers. Read for
stance, such an answer would stand for its side ("the frontline sees: can someone sort
the parking permits"), and as the most negative answer it is the one a contradiction
would quote.

A linear classifier reads it: logistic regression over the answer's sentence embedding
and its words and two-word phrases (TF-IDF, as the stance head reads them; the same
`StanceHead` JSON, with its linear part as log-odds). It is trained on
`data/offtopic-examples.yaml`, answers off the subject (workplace facilities, HR and IT,
social chat) and real answers that mention the same things but are about customers
("customers can't park either"), and on the stance examples, all of them on the subject.
An answer is flagged when the classifier is at least `SURE` of it *and* it stands apart
from the other answers to its question (its closeness to their centroid is `OUTLIER_Z`
robust z-scores below the question's median): a real answer about the rota or the
lockers sits among answers like it. An answer that says it is an aside ("Unrelated,
but…") needs the classifier only to lean its way (`ANNOUNCED_SURE`). A flagged answer
counts toward its side's n, like junk, and is never read for stance, quoted, or made a
theme. Only the sentence
encoder's classifier is shipped: word vectors could not tell "missed windows on my
route" from a rota swap, so a round too large for the encoder is not screened.

`python -m bot.analysis.offtopic` trains the classifier again and prints how many of the
development corpus's off-topic answers (tuning companies) it finds and how many real
answers it would flag.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path

import numpy as np

from bot.analysis.stance import (
    DATA,
    Phrases,
    StanceHead,
    load_examples,
    tuning_answers,
    with_phrases,
)

EXAMPLES = DATA / "offtopic-examples.yaml"
#: A real answer flagged loses its voice, so both tests are strict: the classifier's
#: probability, and how far the answer stands from the rest of its question.
SURE = 0.95
OUTLIER_Z = -1.5
#: A question needs this many distinct answers for "apart from the rest" to mean much.
MIN_ANSWERS = 6
#: Why a flagged answer is flagged ("off the subject" is what the summary counts).
REASON = "off the subject: not about customers or the question"
#: An answer that says it is an aside ("Unrelated, but…", "Slightly off topic, sorry:",
#: "While I've got you…") needs the classifier only to lean its way, not to be sure,
#: nor to stand apart: several asides about the heating sit together.
ANNOUNCED_SURE = 0.5
_ANNOUNCED = re.compile(
    r"^\W*(?:(?:slightly|a bit|a little|somewhat|totally|completely|bit)\s+)?"
    r"(?:off[- ]topic|off the (?:question|subject|point)|unrelated|separate (?:point|thing|issue)|"
    r"side ?note|sidebar|different (?:subject|topic|point)|on (?:another|a different|a separate) "
    r"(?:note|subject|topic)|while i(?:'ve| have) got you|while i(?:'m| am) (?:here|at it)|"
    r"not (?:related|relevant) to (?:the|this) question|random,? but|btw,? not customer)\b",
    re.I,
)
#: Inverse regularisation of the logistic regression (chosen on the corpus's tuning
#: companies: the widest gap between their off-topic answers and their real ones).
C = 16.0


def head_path(embedder_name: str) -> Path:
    return DATA / f"offtopic-head-{embedder_name}.json"


@cache
def head_for(embedder_name: str) -> StanceHead | None:
    """The embedder's trained classifier, or None when none was trained for it."""
    path = head_path(embedder_name)
    return StanceHead.load(path) if path.exists() else None


def off_subject(
    answers: Iterable[tuple[str, str]],
    embed: Callable[[list[str]], np.ndarray],
    embedder_name: str,
) -> set[tuple[str, str]]:
    """Of these (question id, text) answers, the ones off the subject, given how the
    embedder named reads texts (unit vectors). Nothing is read without its classifier."""
    head = head_for(embedder_name)
    if head is None:
        return set()
    questions: dict[str, dict[str, None]] = {}  # each question's distinct texts, in order
    for question_id, text in answers:
        questions.setdefault(question_id, {})[text] = None
    return _flag(head, {q: list(texts) for q, texts in questions.items()}, embed)


def _flag(
    head: StanceHead,
    questions: Mapping[str, list[str]],
    embed: Callable[[list[str]], np.ndarray],
) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for question_id, texts in questions.items():
        if len(texts) < MIN_ANSWERS:
            continue
        vectors = np.asarray(embed(texts), dtype=np.float64)
        chance = probability(head, texts, vectors)
        announced = np.array([bool(_ANNOUNCED.match(t)) for t in texts]) & (
            chance >= ANNOUNCED_SURE
        )
        found |= {(question_id, t) for t, a in zip(texts, announced, strict=True) if a}
        sure = chance >= SURE
        if not sure.any():
            continue
        total = vectors.sum(axis=0)
        closeness = np.array(
            [v @ (total - v) / (np.linalg.norm(total - v) or 1.0) for v in vectors]
        )
        median = np.median(closeness)
        spread = 1.4826 * np.median(np.abs(closeness - median)) or 1e-9
        apart = (closeness - median) / spread <= OUTLIER_Z
        found |= {(question_id, t) for t, s, a in zip(texts, sure, apart, strict=True) if s and a}
    return found


def probability(head: StanceHead, texts: list[str], vectors: np.ndarray) -> np.ndarray:
    x = with_phrases(np.asarray(vectors, dtype=np.float64), head.phrases.rows(texts))
    return 1.0 / (1.0 + np.exp(-head.linear(x)))


def load(path: Path = EXAMPLES) -> tuple[list[str], list[str]]:
    """(answers off the subject, real answers that look like them) from the examples file."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [str(t) for t in data["off_topic"]], [str(t) for t in data["on_topic_hard"]]


def fit(texts: list[str], vectors: np.ndarray, off: np.ndarray, name: str) -> StanceHead:
    """A classifier of `off` (1: off the subject) over these texts' vectors and phrases."""
    from sklearn.linear_model import LogisticRegression

    vocabulary = Phrases.learn(texts)
    x = with_phrases(np.asarray(vectors, dtype=np.float64), vocabulary.rows(texts))
    model = LogisticRegression(C=C, max_iter=5000, class_weight="balanced").fit(x, off)
    coefficients = model.coef_.ravel().astype(np.float64)
    return StanceHead(name, coefficients, float(model.intercept_[0]), vocabulary)


def corpus_questions(corpus: Path) -> tuple[dict[str, list[str]], set[tuple[str, str]]]:
    """The tuning companies' distinct usable answer texts per question (keyed
    "company/question"), and which (key, text) are off-topic in the gold labels."""
    questions: dict[str, dict[str, None]] = {}  # distinct texts, in order
    gold: set[tuple[str, str]] = set()
    for company, labels, row in tuning_answers(corpus):
        key = f"{company}/{row['question_id']}"
        questions.setdefault(key, {})[row["text"]] = None
        if labels["themes"].get(row["id"]) == "off-topic":
            gold.add((key, row["text"]))
    return {key: list(texts) for key, texts in questions.items()}, gold


def main(argv: list[str] | None = None) -> int:
    """Train the sentence encoder's off-subject classifier on the examples, and report
    how it reads what it was not trained on: the examples in five folds (the classifier
    alone), and the tuning companies of the development corpus (the whole rule)."""
    import argparse

    from sklearn.model_selection import StratifiedKFold

    from bot.analysis.embeddings import sentence_embedder

    root = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--corpus", type=Path, default=root / "tests" / "analysis" / "corpus")
    parser.add_argument("--check", action="store_true", help="report only; keep the head")
    args = parser.parse_args(argv)
    off_topic, look_alike = load()
    on_topic = look_alike + [text for _, text, _ in load_examples()]
    texts = off_topic + on_topic
    off = np.array([1] * len(off_topic) + [0] * len(on_topic))
    embedder = sentence_embedder()
    vectors = np.asarray(embedder.embed(texts), dtype=np.float64)
    held = np.zeros(len(texts))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(texts, off):
        fold = fit([texts[i] for i in train], vectors[train], off[train], embedder.name)
        held[test] = probability(fold, [texts[i] for i in test], vectors[test])
    head = fit(texts, vectors, off, embedder.name)
    questions, gold = corpus_questions(args.corpus)
    found = _flag(head, questions, embedder.embed)
    real = sum(len(t) for t in questions.values()) - len(gold)
    print(
        f"{embedder.name}: {len(off_topic)} off-subject and {len(on_topic)} real examples; "
        f"in five folds the classifier is sure of {np.mean(held[off == 1] >= SURE):.2f} of "
        f"the off-subject and of {int((held[off == 0] >= SURE).sum())} real ones; on the "
        f"corpus's tuning companies the rule finds {len(found & gold)} of {len(gold)} "
        f"off-topic answers and flags {len(found - gold)} of {real} real ones"
    )
    for key, text in sorted(found - gold):
        print(f"  flags a real answer ({key}): {text}")
    if not args.check:
        head.save(head_path(embedder.name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
