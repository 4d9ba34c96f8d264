"""Approved questions get a scale that fits (issue 15): presets, the admin's own ends or
text only, suggested from the wording and previewed before the approval."""

from __future__ import annotations

import pytest

from bot.core.errors import InvalidAnswer, UsageError
from bot.core.scales import PRESETS, TEXT_ONLY, Scale, parse_scale, suggest_scale
from tests.conftest import make_people

OFTEN = "How often do you personally talk to a customer?"


@pytest.mark.parametrize(
    "question,preset",
    [
        (OFTEN, "often"),
        ("When did you last visit a customer site?", "often"),
        ("How likely is a customer to recommend us?", "likely"),
        ("Do you think our prices are fair?", "agree"),
        ("How well do we handle complaints?", "good"),
        ("To what degree do we keep our promises?", "extent"),
    ],
)
def test_the_wording_suggests_a_preset(question, preset):
    assert suggest_scale(question) == preset


def test_scales_are_presets_own_ends_or_text_only():
    assert parse_scale([], OFTEN) == (PRESETS["often"], "scale often")
    assert parse_scale(["scale", "AGREE"], OFTEN) == (PRESETS["agree"], "scale agree")
    assert parse_scale(["scale", "Rarely", "Every  day"], OFTEN) == (
        Scale("Rarely", "Every day"),
        'scale "Rarely" "Every day"',
    )
    assert parse_scale(["text"], OFTEN) == (TEXT_ONLY, "text")
    with pytest.raises(UsageError, match="There is no scale 'weekly'"):
        parse_scale(["scale", "weekly"], OFTEN)
    with pytest.raises(UsageError, match="1 to 40 characters"):
        parse_scale(["scale", "x" * 41, "y"], OFTEN)
    with pytest.raises(UsageError, match="give `scale PRESET`"):
        parse_scale(["sideways"], OFTEN)


@pytest.fixture
def proposal(service, commands):
    worker = make_people(service, "frontline", 1)[0]
    commands.handle(worker, f"propose {OFTEN}")
    return service.pending_proposals()[0]


def test_approve_shows_a_preview_and_approves_only_with_confirm(commands, service, admin, proposal):
    listing = commands.handle(admin, "propose list").as_text()
    assert "1 = Never … 5 = Every day" in listing  # the suggested scale, in the list too
    preview = commands.handle(admin, f"propose approve {proposal.id}").as_text()
    assert f"Preview: proposal {proposal.id}" in preview and OFTEN in preview
    assert "1 = Never … 5 = Every day" in preview
    assert f"`/integrity propose approve {proposal.id} scale often confirm`" in preview
    assert service.pending_proposals()  # nothing approved yet
    custom = commands.handle(admin, f'propose approve {proposal.id} scale "Rarely" "Daily"')
    assert "1 = Rarely … 5 = Daily" in custom.as_text()
    done = commands.handle(
        admin, f'propose approve {proposal.id} scale "Rarely" "Daily" confirm'
    ).as_text()
    assert "Approved" in done and "1 = Rarely … 5 = Daily" in done
    question = service.question(f"proposed-{proposal.id}")
    assert (question.low_label, question.high_label) == ("Rarely", "Daily")
    again = commands.handle(admin, f"propose approve {proposal.id} confirm").as_text()
    assert "already approved" in again


def test_a_text_only_question_is_answered_in_words_and_refuses_a_rating(
    commands, service, admin, proposal, clock
):
    commands.handle(admin, f"propose approve {proposal.id} text confirm")
    executive = make_people(service, "executive", 1)[0]
    current = service.start_round()
    question_id = f"proposed-{proposal.id}"
    assert question_id in current.question_ids and service.question(question_id).text_only
    number = [q.id for q in service.questions_for(executive, current)].index(question_id) + 1
    listing = commands.handle(executive, "answer").as_text()
    assert f"in words: `/integrity answer {number} - …`" in listing
    refused = commands.handle(executive, f"answer {number} 4 often").as_text()
    assert "is answered in words only" in refused
    with pytest.raises(InvalidAnswer, match="in words only"):
        service.record_answer(executive, question_id, rating=3, text="x", round_=current)
    said = commands.handle(executive, f"answer {number} - twice a week").as_text()
    assert "no rating, with your why" in said


def test_an_open_quote_is_a_usage_error(commands, admin, proposal):
    text = commands.handle(admin, f'propose approve {proposal.id} scale "Rarely').as_text()
    assert "A quote is left open" in text
