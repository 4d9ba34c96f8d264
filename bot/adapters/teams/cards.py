"""Adaptive Cards for Teams: the check-in card, and core replies drawn as cards.

The check-in card asks every question of a round for one person: a 1-5 choice
whose two ends carry the question's labels, a text box for the why, and one
`Action.Execute` button. Teams sends the inputs back as an `adaptiveCard/action`
invoke and shows the card the bot answers with, so the card refreshes in place
to show what was recorded.

Replies become cards block by block (heading, text, note, quote, table) and are
split so that no message goes over Teams' size limit (about 28 KB per activity);
files travel separately (see `bot.adapters.teams.files`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bot.core.domain import Answer, Question, Round
from bot.core.replies import File, Heading, Note, Quote, Reply, Table, Text

#: Teams refuses activities over ~28 KB; keep each card well under, leaving room for the envelope.
MAX_CARD_BYTES = 24_000
#: A TextBlock longer than this is split into several (one answer is at most 3,000 characters).
MAX_TEXT_CHARS = 4_000
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.5"  # Teams supports 1.5 on desktop, web and mobile; Table needs it
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"

ANSWER_VERB = "answer"
REFRESH_VERB = "refresh"


def card(body: list[dict], actions: list[dict] | None = None, **extra: Any) -> dict:
    """An Adaptive Card with this body."""
    content: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }
    if actions:
        content["actions"] = actions
    content.update(extra)
    return content


def attachment(content: dict) -> dict:
    return {"contentType": CARD_CONTENT_TYPE, "content": content}


def size(content: dict) -> int:
    return len(json.dumps(content, ensure_ascii=False).encode("utf-8"))


def teams_words(text: str) -> str:
    """Core text for a Teams card: commands without `/integrity`, code shown in bold.

    In Teams the command words are sent as a plain message to the bot, and card
    TextBlocks do not render `code`.
    """
    return re.sub(r"`([^`]+)`", r"**\1**", text_for_message(text))


def text_for_message(text: str) -> str:
    """Core text for a plain Teams message (which does render `code`): Teams command words."""
    text = re.sub(r"`/integrity`", "`help`", text)
    return re.sub(r"/integrity\b ?", "", text)


def text_blocks(text: str, **style: Any) -> list[dict]:
    text = teams_words(text)
    chunks = [text[i : i + MAX_TEXT_CHARS] for i in range(0, len(text), MAX_TEXT_CHARS)] or [""]
    return [{"type": "TextBlock", "text": chunk, "wrap": True, **style} for chunk in chunks]


def _table_elements(table: Table, rows: list[list[str]]) -> list[dict]:
    header = {
        "type": "TableRow",
        "style": "accent",
        "cells": [_cell(c, weight="Bolder") for c in table.columns],
    }
    body = [{"type": "TableRow", "cells": [_cell(v) for v in row]} for row in rows]
    return [
        {
            "type": "Table",
            "columns": [{"width": 1} for _ in table.columns],
            "rows": [header, *body],
            "firstRowAsHeader": True,
            "showGridLines": True,
        }
    ]


def _cell(value: str, **style: Any) -> dict:
    return {
        "type": "TableCell",
        "items": [{"type": "TextBlock", "text": teams_words(value), "wrap": True, **style}],
    }


def block_elements(block: Heading | Text | Note | Quote | Table) -> list[list[dict]]:
    """The card elements of one reply block, as pieces that may go to different cards.

    Each piece is small enough for a card on its own, so a long table is cut
    into row groups, each repeating the header.
    """
    if isinstance(block, Heading):
        return [text_blocks(block.text, weight="Bolder", size="Large")]
    if isinstance(block, Text):
        return [[b] for b in text_blocks(block.text)]
    if isinstance(block, Note):
        return [[b] for b in text_blocks(block.text, isSubtle=True, size="Small")]
    if isinstance(block, Quote):
        items = text_blocks(f"“{block.text}”", style="default")
        if block.attribution:
            items += text_blocks(f"— {block.attribution}", isSubtle=True, size="Small")
        return [[{"type": "Container", "style": "emphasis", "items": items}]]
    if isinstance(block, Table):
        caption = text_blocks(block.caption, weight="Bolder") if block.caption else []
        pieces: list[list[dict]] = []
        group: list[list[str]] = []
        for row in block.rows:
            trial = _table_elements(block, [*group, row])
            if group and size(card(trial)) > MAX_CARD_BYTES:
                pieces.append(_table_elements(block, group))
                group = []
            group.append(row)
        pieces.append(_table_elements(block, group))
        if caption:
            pieces[0] = caption + pieces[0]
        return pieces
    raise TypeError(f"Not a card block: {block!r}")


def reply_cards(reply: Reply) -> list[dict]:
    """The reply's blocks (files aside) as Adaptive Cards, each under Teams' size limit."""
    cards: list[dict] = []
    body: list[dict] = []
    for block in reply.blocks:
        if isinstance(block, File):
            continue
        for piece in block_elements(block):
            if body and size(card(body + piece)) > MAX_CARD_BYTES:
                cards.append(card(body))
                body = []
            body = body + piece
    if body:
        cards.append(card(body))
    return cards


def is_plain(reply: Reply) -> bool:
    """A reply that reads best as an ordinary chat message: one short text, no files."""
    return (
        len(reply.blocks) == 1
        and isinstance(reply.blocks[0], Text)
        and len(reply.blocks[0].text) <= MAX_TEXT_CHARS
    )


# -- the check-in card -------------------------------------------------------------


def rating_choices(question: Question) -> list[dict]:
    """1 to 5, the two ends labelled with what they mean for this question."""
    titles = {1: f"1 · {question.low_label}", 5: f"5 · {question.high_label}"}
    return [{"title": titles.get(n, str(n)), "value": str(n)} for n in range(1, 6)]


def checkin_card(
    round_: Round,
    questions: Iterable[Question],
    answers: dict[str, Answer],
    *,
    floor: int,
    user_id: str | None = None,
    message: str | None = None,
    message_color: str = "Good",
) -> dict:
    """One person's questions for a round, with what they answered so far.

    While the round is open the inputs are filled with the recorded answer, so
    sending again edits it; once it is closed the card only shows what was kept.
    `user_id` (the person's Teams id) turns on Teams' automatic refresh, so the
    card shows the latest state whenever it is opened again.
    """
    questions = list(questions)
    data = {"round": round_.id}
    body: list[dict] = [
        {
            "type": "TextBlock",
            "text": f"Round {round_.number}: the integrity check",
            "weight": "Bolder",
            "size": "Large",
            "wrap": True,
        },
        {
            "type": "TextBlock",
            "text": (
                "Your answers are anonymous: stored under a pseudonym with the day only, and "
                f"nothing is shown about fewer than {floor} answers. "
                + (
                    f"You can change them until {_when(round_.closes_at)}."
                    if round_.is_open
                    else f"This round closed on {_when(round_.closed_at or round_.closes_at)}."
                )
            ),
            "isSubtle": True,
            "size": "Small",
            "wrap": True,
        },
    ]
    if message:
        body.append(
            {
                "type": "TextBlock",
                "text": teams_words(message),
                "color": message_color,
                "weight": "Bolder",
                "wrap": True,
            }
        )
    for number, question in enumerate(questions, start=1):
        mine = answers.get(question.id)
        items: list[dict] = [
            {
                "type": "TextBlock",
                "text": f"{number}. {question.text}",
                "weight": "Bolder",
                "wrap": True,
            }
        ]
        if round_.is_open:
            rating_input: dict[str, Any] = {
                "type": "Input.ChoiceSet",
                "id": f"rating:{question.id}",
                "label": f"1 = {question.low_label}, 5 = {question.high_label}",
                "style": "expanded",
                "choices": rating_choices(question),
            }
            why_input: dict[str, Any] = {
                "type": "Input.Text",
                "id": f"why:{question.id}",
                "label": "Why?",
                "placeholder": question.why_prompt or "Why? Tell us more.",
                "isMultiline": True,
                "maxLength": 3000,
            }
            if mine is not None and mine.rating is not None:
                rating_input["value"] = str(mine.rating)
            if mine is not None and mine.text:
                why_input["value"] = mine.text
            if question.text_only:  # no scale: the answer is the words
                why_input["label"] = "Your answer"
                items.append(why_input)
            else:
                items += [rating_input, why_input]
        items.append(
            {
                "type": "TextBlock",
                "text": _recorded(mine),
                "isSubtle": mine is None,
                "color": "Good" if mine is not None else "Default",
                "size": "Small",
                "wrap": True,
            }
        )
        body.append({"type": "Container", "separator": True, "spacing": "Medium", "items": items})
    actions = None
    extra: dict[str, Any] = {}
    if round_.is_open and questions:
        actions = [
            {
                "type": "Action.Execute",
                "title": "Send my answers",
                "verb": ANSWER_VERB,
                "data": data,
                "style": "positive",
            }
        ]
        if user_id:
            extra["refresh"] = {
                "action": {"type": "Action.Execute", "verb": REFRESH_VERB, "data": data},
                "userIds": [user_id],
            }
    return card(body, actions, **extra)


def _recorded(answer: Answer | None) -> str:
    if answer is None:
        return "Not answered yet."
    rating = f"{answer.rating}/5" if answer.rating is not None else "no rating"
    why = "with your why" if answer.text else "no why yet"
    return f"Recorded: {rating}, {why}."


def _when(moment: datetime) -> str:
    return moment.strftime("%a %d %b %H:%M UTC")
