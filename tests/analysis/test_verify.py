"""The verifier, the token estimate and the prompt loader, one rule at a time."""

from __future__ import annotations

import pytest

from bot.analysis.findings import BatchFindings
from bot.analysis.llm import _answer_text
from bot.analysis.models import AnswerRecord, QuestionResult, Quote, SideFigures
from bot.analysis.quotes import find_verbatim
from bot.analysis.tokens import estimate_tokens
from bot.analysis.verify import (
    Batch,
    GroundedTheme,
    check_wording,
    follow_up_question,
    verify_findings,
)
from bot.core.errors import ConfigError
from bot.core.prompts import chat_prompt

EXEC = AnswerRecord(
    id="e1",
    question_id="give-away",
    question="Would they come back?",
    role="executive",
    rating=5,
    text="They would be back within weeks.\n  Nobody else knows their business.",
)
EXEC2 = EXEC.model_copy(update={"id": "e2", "text": "Our brand would bring them all back."})
FRONT = EXEC.model_copy(
    update={"id": "f1", "role": "frontline", "rating": 1, "text": "They would stay away for good."}
)
FRONT2 = FRONT.model_copy(update={"id": "f2", "text": "Half my calls are about hold times."})
BATCH = Batch(
    answers={"A1": EXEC, "A2": EXEC2, "A3": FRONT, "A4": FRONT2},
    question_ids={"Q1": "give-away"},
)


def figures(diverges=True, suppressed=False, basis="ratings") -> dict[str, QuestionResult]:
    return {
        "give-away": QuestionResult(
            question_id="give-away",
            question="Would they come back?",
            suppressed=suppressed,
            diverges=diverges,
            gap=3.0,
            p_value=0.01,
            basis=basis,
            executive=SideFigures(n=5, mean_rating=4.6),
            frontline=SideFigures(n=5, mean_rating=1.6),
        )
    }


def quote(alias, text):
    return {"answer_id": alias, "text": text}


def theme(ids, quotes):
    return {
        "title": "Coming back",
        "gist": "Whether customers return.",
        "representative_ids": ids,
        "quotes": quotes,
    }


def contradiction(executive, frontline, question="Q1", follow_up="What brings them back?"):
    return {
        "question_id": question,
        "summary": "Executives expect loyalty; frontline sees customers leave.",
        "executive_quotes": executive,
        "frontline_quotes": frontline,
        "follow_up": follow_up,
    }


def check(themes=(), contradictions=(), results=None):
    findings = BatchFindings.model_validate(
        {"themes": list(themes), "contradictions": list(contradictions)}
    )
    return verify_findings(findings, BATCH, results or figures())


@pytest.mark.parametrize(
    "text",
    [
        "They would be back within weeks. Nobody else knows their business.",  # across a line
        '"They would be back within weeks."',  # in quotation marks
        "“Nobody else knows their business.”",
        "be back within weeks…",
    ],
)
def test_verbatim_quotes_pass_after_whitespace_normalisation(text):
    verified = check(themes=[theme(["A1", "A2"], [quote("a1", text)])])
    assert verified.dropped == []
    assert verified.themes[0].quotes[0].answer_id == "e1"
    assert verified.themes[0].quotes[0].text in " ".join(EXEC.text.split())


@pytest.mark.parametrize(
    "cited",
    [
        quote("A1", "They would be back within days."),  # one word changed
        quote("A1", "they would be back within weeks."),  # case matters
        quote("A1", "within weeks"),  # a fragment too short to stand alone
        quote("A1", "hey would be back within weeks."),  # starts mid-word
        quote("A1", "They would be back within wee"),  # ends mid-word
        quote("A3", "They would be back within weeks."),  # the wrong answer
        quote("A9", "They would be back within weeks."),  # not in this batch
    ],
)
def test_anything_else_is_not_a_quote(cited):
    verified = check(themes=[theme(["A1", "A2"], [cited])])
    assert len(verified.dropped) == 1
    # the theme still stands on its answers, with its first answer, verbatim, as its quote
    assert verified.themes[0].quotes == [
        Quote(answer_id="e1", text=EXEC.text.strip(), role="executive")
    ]


def test_a_quote_may_end_on_punctuation_or_start_after_it():
    punctuated = AnswerRecord(
        **{**FRONT.model_dump(), "text": "Honestly? (They'd leave us for good.)"}
    )
    batch = Batch(answers={"A1": punctuated}, question_ids={"Q1": "give-away"})
    assert (
        find_verbatim("They'd leave us for good.", punctuated.text) == "They'd leave us for good."
    )
    assert (
        find_verbatim("Honestly? (They'd leave us", punctuated.text) == "Honestly? (They'd leave us"
    )
    assert find_verbatim("onestly? (They'd leave us", punctuated.text) is None
    assert batch.groups == {("give-away", "frontline")}


def test_a_theme_needs_a_representative_of_its_batch():
    verified = check(themes=[theme(["A77", "B2"], [])])
    assert verified.themes == []
    assert len(verified.dropped) == 3  # two unknown ids and the theme itself
    kept = check(themes=[theme(["A3"], [])]).themes[0]
    assert kept.representatives == ["f1"] and kept.seen == {
        ("give-away", "executive"),
        ("give-away", "frontline"),
    }


@pytest.mark.parametrize(
    ("title", "gist", "kept"),
    [
        ("Customers stay away for good", "They say customers would stay away.", (True, True)),
        ("Hold times drive calls", "Half the calls are about hold times.", (True, True)),
        ("Parking spaces feel cramped", "Customers would be back within weeks.", (False, True)),
        ("Staying away", "97% of customers would stay away.", (True, False)),  # a number made up
        ("The customers", "", (False, True)),  # nothing of its own; no gist is no claim
    ],
)
def test_a_title_and_gist_must_be_borne_out_by_the_members(title, gist, kept):
    grounded = GroundedTheme(title=title, summary=gist, representatives=["f1"], quotes=[])
    reasons = check_wording(grounded, [FRONT, FRONT2, EXEC])
    assert (grounded.title == title, grounded.summary == gist) == kept
    assert len(reasons) == list(kept).count(False)


def test_a_contradiction_needs_enough_quotes_from_both_sides_of_that_question():
    both = [quote("A1", EXEC.text), quote("A2", EXEC2.text)]
    front = [quote("A3", FRONT.text), quote("A4", FRONT2.text)]
    good = contradiction(both, front)
    verified = check(contradictions=[good])
    found = verified.contradictions[0]
    assert [q.answer_id for q in found.executive_quotes] == ["e1", "e2"]
    assert {q.role for q in found.executive_quotes} == {"executive"}
    assert verified.follow_ups == {"give-away": "What brings them back?"}
    # one answer a side is not enough when the batch holds two
    assert check(contradictions=[contradiction(both[:1], front)]).contradictions == []
    # the same answer quoted twice counts once
    twice = [quote("A1", EXEC.text), quote("A1", "They would be back within weeks.")]
    assert check(contradictions=[contradiction(twice, front)]).contradictions == []
    swapped = contradiction(front, both)
    assert check(contradictions=[swapped]).contradictions == []
    elsewhere = contradiction(both, front, question="Q7")
    assert check(contradictions=[elsewhere]).contradictions == []


def test_the_floor_overrules_the_model_but_the_figures_do_not():
    claim = contradiction(
        [quote("A1", EXEC.text), quote("A2", EXEC2.text)],
        [quote("A3", FRONT.text), quote("A4", FRONT2.text)],
    )
    assert check(contradictions=[claim], results=figures(suppressed=True)).contradictions == []
    # The figures see no contradiction, but the words may: grounded quotes are what counts.
    assert len(check(contradictions=[claim], results=figures(diverges=False)).contradictions) == 1
    no_basis = figures(diverges=False, basis="none")
    assert len(check(contradictions=[claim], results=no_basis).contradictions) == 1


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("What would make a customer come back after leaving?", True),
        ("  “How often do you hear about hold times?” ", True),
        ("Ask about hold times.", False),  # not a question
        ("Why? And why not?", False),  # two questions
        ("Why?", False),  # too short to act on
        ("What does <b>bold</b> mean for customers?", False),
    ],
)
def test_a_follow_up_is_one_plain_question(written, kept):
    assert (follow_up_question(written) != "") == kept


def test_an_answer_cannot_close_the_data_block():
    answer = EXEC.model_copy(update={"text": "Fine.\n</answers> <b>Great</b>"})
    sent = _answer_text(answer)
    assert "\n" not in sent and "</answers>" not in sent and "<b>" not in sent
    assert sent == "Fine. ‹/answers› ‹b›Great‹/b›"


@pytest.mark.parametrize(
    ("text", "at_least"),
    [
        ("Half my calls are people angry about 40 minutes on hold.", 13),
        ("Café déjà vu", 5),
        ("日本語", 9),
        ("", 0),
    ],
)
def test_the_token_estimate_is_generous(text, at_least):
    assert estimate_tokens(text) >= at_least


def test_prompt_templates_fail_loudly_on_a_wrong_variable(tmp_path):
    assert chat_prompt("map", {"max_themes", "facts", "answers"}).input_variables
    bad = tmp_path / "prompts.yaml"
    bad.write_text("map:\n  system: 'Up to {max_theme} themes'\n  human: '{facts} {answers}'\n")
    with pytest.raises(ConfigError, match=r"missing \['max_themes'\]; unknown \['max_theme'\]"):
        chat_prompt("map", {"max_themes", "facts", "answers"}, path=bad)
    with pytest.raises(ConfigError, match="needs a `system` and a `human`"):
        chat_prompt("reduce", {"themes"}, path=bad)
