"""Replies drawn as Adaptive Cards: each block kind, and splitting under Teams' size limit."""

from __future__ import annotations

import json

from bot.adapters.teams.cards import MAX_CARD_BYTES, reply_cards, teams_words
from bot.core.replies import File, Heading, Note, Quote, Reply, Table, Text


def _elements(card: dict) -> list[dict]:
    return card["body"]


def test_each_block_kind_has_its_card_element():
    reply = Reply(
        [
            Heading("Integrity check: round 3"),
            Text("Executives rate 4.6, frontline 1.8."),
            Note("2 question groups had fewer than 5 answers."),
            Quote("They stay because leaving is a hassle.", "frontline, Support"),
            Table(["who", "rate"], [["executives", "80%"]], caption="Response rate"),
            File("x.csv", b"a,b\n", "text/csv"),
        ]
    )
    [card] = reply_cards(reply)
    heading, text, note, quote, caption, table = _elements(card)
    assert heading["weight"] == "Bolder" and heading["text"] == "Integrity check: round 3"
    assert text["type"] == "TextBlock" and text["wrap"] is True
    assert note["isSubtle"] is True
    assert quote["type"] == "Container" and quote["style"] == "emphasis"
    assert quote["items"][0]["text"] == "“They stay because leaving is a hassle.”"
    assert quote["items"][1]["text"] == "— frontline, Support"
    assert caption["text"] == "Response rate"
    assert table["type"] == "Table" and table["firstRowAsHeader"] is True
    assert [c["items"][0]["text"] for c in table["rows"][1]["cells"]] == ["executives", "80%"]
    assert card["version"] == "1.5" and "x.csv" not in json.dumps(card)  # files go separately


def test_a_long_summary_is_split_into_cards_under_the_limit_losing_nothing():
    quotes = [Quote(f"Answer {i}: " + "customers notice everything " * 40) for i in range(60)]
    rows = [[f"q{i}", "x" * 300, str(i)] for i in range(200)]
    reply = Reply([Heading("Big"), *quotes, Table(["id", "text", "n"], rows, caption="All")])
    cards = reply_cards(reply)
    assert len(cards) > 3
    for card in cards:
        assert len(json.dumps(card, ensure_ascii=False).encode()) <= MAX_CARD_BYTES
    everything = json.dumps(cards, ensure_ascii=False)
    for i in range(60):
        assert f"Answer {i}: " in everything
    for i in range(200):
        assert f'"q{i}"' in everything
    # A table cut across cards repeats its header in each part.
    tables = [e for c in cards for e in c["body"] if e["type"] == "Table"]
    assert len(tables) > 1
    assert all(t["rows"][0]["cells"][0]["items"][0]["text"] == "id" for t in tables)


def test_command_words_read_as_teams_words():
    assert teams_words("Try `/integrity answer 1 4`.") == "Try **answer 1 4**."
    assert teams_words("Usage: /integrity summary [last]") == "Usage: summary [last]"
    assert teams_words("See `/integrity`.") == "See **help**."


def test_a_text_only_question_is_answered_in_words_on_the_card():
    from datetime import UTC, datetime, timedelta

    from bot.adapters.teams.cards import checkin_card
    from bot.core.domain import Question, Round

    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    words = Question("proposed-1", "What did a customer thank you for?", "proposed", "", "",
                     "Tell us.", source="proposal")  # fmt: skip
    rated = Question("give-away", "Would they come back?", "loyalty", "No", "Yes", "Why?")
    round_ = Round(1, 1, now, now + timedelta(days=5), "open", (words.id, rated.id))
    content = json.dumps(checkin_card(round_, [words, rated], {}, floor=5))
    assert '"rating:proposed-1"' not in content and '"why:proposed-1"' in content
    assert '"rating:give-away"' in content
