"""The question bank file and the rotation of questions through rounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.errors import ConfigError
from bot.core.questions import choose_round_questions, load_bank
from tests.conftest import ROOT

BANK = ROOT / "prompts" / "questions.yaml"


def test_the_bank_asks_both_sides_the_same_labelled_questions():
    bank = load_bank(BANK)
    assert len(bank) >= 10
    assert [q.id for q in bank if q.anchor] == ["give-away"]
    for q in bank:
        assert q.low_label and q.high_label and q.why_prompt and q.theme
        assert set(q.roles) == {"executive", "frontline"}


def test_every_bank_question_has_a_customer_version_in_its_own_words():
    bank = load_bank(BANK)
    for q in bank:
        assert q.customer is not None, q.id
        assert q.customer.text != q.text and q.customer.text.endswith("?")
        assert q.customer.low_label and q.customer.high_label and q.customer.why_prompt
    anchor = next(q for q in bank if q.anchor)
    assert "competitor" in anchor.customer.text and "stay with us" in anchor.customer.text


def test_rounds_rotate_through_the_bank_with_the_anchor_every_time():
    bank = load_bank(BANK)
    previous: list[tuple[str, ...]] = []
    asked: set[str] = set()
    for _ in range(len(bank)):
        chosen = choose_round_questions(bank, [], previous, 4)
        assert chosen[0] == "give-away" and len(chosen) == 4 == len(set(chosen))
        previous.append(tuple(chosen))
        asked |= set(chosen)
    assert asked == {q.id for q in bank}  # every question comes round


def test_approved_proposals_jump_the_queue():
    bank = load_bank(BANK)
    extra = bank[5]
    chosen = choose_round_questions(bank, [extra], [], 3)
    assert chosen[:2] == ["give-away", extra.id] and len(chosen) == 3


@pytest.mark.parametrize(
    "content,message",
    [
        ("questions: []", "no `questions:` list"),
        ("questions: [{id: Bad Id, text: t, scale: {low: a, high: b}, why: w, theme: x}]", "id"),
        ("questions: [{id: ok-id, text: t, why: w, theme: x}]", "missing scale"),
        ("questions: [{id: ok, text: t, scale: {low: a}, why: w, theme: x}]", "scale"),
        ("questions: [{", "not valid YAML"),
        (
            "questions: [{id: ok, text: t, scale: {low: a, high: b}, why: w, theme: x, "
            "customer: {text: c, why: w}}]",
            "customer.*missing scale",
        ),
        (
            "questions: [{id: ok, text: t, scale: {low: a, high: b}, why: w, theme: x, "
            "customer: yes}]",
            "customer",
        ),
    ],
)
def test_a_bad_question_file_names_what_is_wrong(tmp_path: Path, content, message):
    path = tmp_path / "q.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_bank(path)


def test_a_missing_question_file_says_which_setting_to_fix(tmp_path):
    with pytest.raises(ConfigError, match="INTEGRITY_QUESTIONS"):
        load_bank(tmp_path / "nope.yaml")
