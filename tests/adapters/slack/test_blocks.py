"""Block Kit drawing: Slack's limits are never broken, and people's words are never markup."""

from __future__ import annotations

import json

from bot.adapters.slack import blocks as kit
from bot.core.replies import Heading, Note, Quote, Reply, Table, Text


def test_a_long_reply_is_split_within_slack_limits():
    long_text = "\n".join(f"line {i} " + "word " * 30 for i in range(400))
    reply = Reply([Heading("Summary")])
    reply.add(Text(long_text))
    for i in range(80):
        reply.add(Quote(f"answer {i} " + "x" * 200, "frontline"))
    reply.add(Table(["q", "exec", "front"], [[f"question {i}", "4.1", "2.0"] for i in range(30)]))
    messages = kit.reply_messages(reply)
    assert len(messages) > 1
    shown = 0
    for blocks in messages:
        assert len(blocks) <= kit.MAX_BLOCKS
        assert sum(kit.block_text(b) for b in blocks) <= kit.MAX_MESSAGE_CHARS or len(blocks) == 1
        for block in blocks:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= kit.MAX_SECTION_CHARS
        shown += sum(json.dumps(b).count("line ") for b in blocks)
    assert shown == 400  # nothing dropped


def test_answers_cannot_ping_the_channel_or_forge_links():
    reply = Reply([Quote("<!channel> look at <https://evil.example|this> & that", "executive")])
    text = json.dumps(kit.reply_blocks(reply))
    assert "<!channel>" not in text and "<https://" not in text
    assert "&lt;!channel&gt;" in text and "&amp;" in text


def test_notes_become_context_and_headers_fit():
    blocks = kit.reply_blocks(Reply([Heading("H" * 400), Note("quiet aside")]))
    assert blocks[0]["type"] == "header" and len(blocks[0]["text"]["text"]) <= 150
    assert blocks[1]["type"] == "context"


def test_a_folded_reply_is_a_first_screen_and_its_more():
    reply = Reply([Heading("Summary"), Text("Executives and frontline contradict on 1 of 2.")])
    reply.fold = len(reply.blocks)
    reply.add(Table(["question", "gap"], [["give-away", "+2.5"]]))
    first, more = kit.reply_parts(reply, "More in the thread.")
    assert len(first) == 1 and first[0][-1]["type"] == "context"
    assert "More in the thread." in json.dumps(first[0]) and "give-away" not in json.dumps(first)
    assert "give-away" in json.dumps(more)
    # No fold, or nothing behind it: one part, as before, and no note.
    unfolded = Reply([Heading("Summary"), Text("All of it.")])
    assert kit.reply_parts(unfolded, "More in the thread.") == (kit.reply_messages(unfolded), [])
    unfolded.fold = len(unfolded.blocks)
    assert kit.reply_parts(unfolded, "More in the thread.") == (kit.reply_messages(unfolded), [])


def _rounds_questions():
    from datetime import UTC, datetime, timedelta

    from bot.core.domain import Question, Round

    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    words = Question("proposed-1", "What did a customer thank you for?", "proposed", "", "",
                     "Tell us.", source="proposal")  # fmt: skip
    rated = Question("give-away", "Would they come back?", "loyalty", "No", "Yes", "Why?")
    round_ = Round(1, 1, now, now + timedelta(days=5), "open", (words.id, rated.id))
    return round_, words, rated


def test_a_text_only_question_gets_no_rating_buttons_or_select():
    round_, words, rated = _rounds_questions()
    assert words.text_only and not rated.text_only
    [_, actions, _] = kit.question_blocks(round_, 1, words, None)
    assert [e["action_id"] for e in actions["elements"]] == [kit.WHY_ACTION]
    [_, rated_actions, _] = kit.question_blocks(round_, 2, rated, None)
    assert len(rated_actions["elements"]) == 6  # five ratings and why
    modal = kit.answer_modal(round_, [words, rated], {})
    ids = [b.get("block_id") for b in modal["blocks"]]
    assert "rating:proposed-1" not in ids and "why:proposed-1" in ids
    assert "rating:give-away" in ids


def test_a_check_in_and_a_reminder_count_their_questions_in_words():
    round_, words, rated = _rounds_questions()
    one = json.dumps(kit.reminder_blocks(round_, [rated], {})[0])
    two = json.dumps(kit.reminder_blocks(round_, [words, rated], {})[0])
    assert "1 question is waiting for you" in one
    assert "2 questions are waiting for you" in two
    checkin = json.dumps(kit.checkin_blocks(round_, [rated], {}, floor=5)[1])
    assert "1 question, about two minutes" in checkin
