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
