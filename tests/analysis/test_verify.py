"""The verifier, the token estimate and the prompt loader, one rule at a time."""

from __future__ import annotations

import pytest

from bot.analysis.llm import BatchFindings, _answer_text
from bot.analysis.models import AnswerRecord, QuestionResult, Quote, SideFigures
from bot.analysis.tokens import estimate_tokens
from bot.analysis.verify import Batch, verify_findings
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


def theme(ids, quotes, keywords=("weeks", "absent")):
    return {
        "title": "Coming back",
        "summary": "Whether customers return.",
        "keywords": list(keywords),
        "answer_ids": ids,
        "quotes": quotes,
    }


def contradiction(executive, frontline, question="Q1"):
    return {
        "question_id": question,
        "summary": "Executives expect loyalty; frontline sees customers leave.",
        "executive_quotes": executive,
        "frontline_quotes": frontline,
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
        quote("A3", "They would be back within weeks."),  # the wrong answer
        quote("A9", "They would be back within weeks."),  # not in this batch
    ],
)
def test_anything_else_is_not_a_quote(cited):
    verified = check(themes=[theme(["A1", "A2"], [cited])])
    assert len(verified.dropped) == 1
    # the theme still stands on its answers, with its first answer, verbatim, as its quote
    assert verified.themes[0].quotes == [Quote(answer_id="e1", text=EXEC.text.strip())]


def test_a_theme_needs_two_answers_of_its_batch():
    verified = check(themes=[theme(["A1", "A77", "B2"], [])])
    assert verified.themes == []
    assert len(verified.dropped) == 3  # two unknown ids and the theme itself


def test_keywords_must_occur_in_the_answers():
    verified = check(themes=[theme(["A1", "A3"], [], keywords=["Weeks", "stay", "delighted"])])
    assert verified.themes[0].keywords == ["weeks", "stay"]


def test_a_contradiction_needs_both_sides_of_that_question():
    good = contradiction([quote("A1", EXEC.text)], [quote("A3", FRONT.text)])
    assert check(contradictions=[good]).contradictions[0].executive_quotes[0].answer_id == "e1"
    swapped = contradiction([quote("A3", FRONT.text)], [quote("A1", EXEC.text)])
    assert check(contradictions=[swapped]).contradictions == []
    one_side = contradiction([quote("A1", EXEC.text)], [])
    assert check(contradictions=[one_side]).contradictions == []
    elsewhere = contradiction([quote("A1", EXEC.text)], [quote("A3", FRONT.text)], question="Q7")
    assert check(contradictions=[elsewhere]).contradictions == []


def test_the_figures_and_the_floor_overrule_the_model():
    claim = contradiction([quote("A1", EXEC.text)], [quote("A3", FRONT.text)])
    assert check(contradictions=[claim], results=figures(diverges=False)).contradictions == []
    assert check(contradictions=[claim], results=figures(suppressed=True)).contradictions == []
    # With no figures to go on (too few scored answers), grounded quotes are enough.
    no_basis = figures(diverges=False, basis="none")
    assert len(check(contradictions=[claim], results=no_basis).contradictions) == 1


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
