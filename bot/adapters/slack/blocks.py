"""Block Kit for Slack: check-in messages, modals, the App Home, and core replies.

Everything here is pure: data in, Block Kit dicts out, no Slack calls. Replies
are split so that no message breaks Slack's limits (50 blocks, 3,000 characters
per section, and about 12,000 characters of block text per message); files
travel separately (`files_upload_v2`). Text people wrote is escaped, so an answer
can never ping `@channel` or forge a link.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from bot.core.anonymity import Response
from bot.core.domain import Answer, Question, Round
from bot.core.replies import File, Heading, Note, Quote, Reply, Table, Text, counted

MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_MESSAGE_CHARS = 12_000
MAX_HEADER_CHARS = 150
MAX_HOME_BLOCKS = 100
MAX_WHY_CHARS = 3000

RATE_ACTION = "integrity_rate_{rating}"
RATE_ACTION_PATTERN = r"^integrity_rate_[1-5]$"
WHY_ACTION = "integrity_why"
ANSWER_PRIVATELY_ACTION = "integrity_answer_privately"
HOME_SUMMARY_ACTION = "integrity_home_summary"
WHY_VIEW = "integrity_why"
ANSWER_VIEW = "integrity_answer"
CHECKIN_EVENT = "integrity_checkin"


def escape(text: str) -> str:
    """Slack's three control characters, so text is shown, never interpreted."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_date(moment: datetime, fmt: str = "{date_short_pretty} at {time}") -> str:
    """A date each reader sees in their own time zone, with a UTC fallback."""
    fallback = moment.strftime("%a %d %b %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{fmt}|{fallback}>"


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(text: str, limit: int = 75) -> dict:
    return {"type": "plain_text", "text": _truncate(text, limit), "emoji": True}


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _chunks(text: str, limit: int) -> list[str]:
    """Split text at line (or word) boundaries into pieces of at most `limit` characters."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            cut = line.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:cut])
            line = line[cut:].lstrip()
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current or not pieces:
        pieces.append(current)
    return pieces


def block_text(block: dict) -> int:
    """How many characters of text a block carries (what Slack's size limits count)."""
    return len(json.dumps(block, ensure_ascii=False))


# -- replies --------------------------------------------------------------------


def reply_blocks(reply: Reply) -> list[dict]:
    """A core reply as Block Kit blocks, each within Slack's per-block limits (files left out)."""
    blocks: list[dict] = []
    for item in reply.blocks:
        if isinstance(item, Heading):
            blocks.append({"type": "header", "text": _plain(item.text, MAX_HEADER_CHARS)})
        elif isinstance(item, Text):
            blocks += [_section(part) for part in _chunks(escape(item.text), MAX_SECTION_CHARS)]
        elif isinstance(item, Note):
            blocks += [_context(part) for part in _chunks(escape(item.text), MAX_SECTION_CHARS)]
        elif isinstance(item, Quote):
            quoted = "\n".join("> " + line for line in escape(item.text).split("\n"))
            who = f"\n> — _{escape(item.attribution)}_" if item.attribution else ""
            blocks += [_section(part) for part in _chunks(f"{quoted}{who}", MAX_SECTION_CHARS)]
        elif isinstance(item, Table):
            blocks += _table_blocks(item)
        elif isinstance(item, File):
            continue
    return blocks


def _table_blocks(table: Table) -> list[dict]:
    """A table as one section per row: the first column in bold, the others as `name: value`.

    Block Kit has no table that reads well on a phone; a row per section does.
    """
    blocks = [_context(f"*{escape(table.caption)}*")] if table.caption else []
    for row in table.rows:
        first, rest = row[0], list(zip(table.columns[1:], row[1:], strict=False))
        details = " · ".join(f"{escape(name)}: *{escape(value)}*" for name, value in rest)
        text = f"*{escape(first)}*" + (f"\n{details}" if details else "")
        blocks += [_section(part) for part in _chunks(text, MAX_SECTION_CHARS)]
    return blocks


def split_messages(blocks: Sequence[dict]) -> list[list[dict]]:
    """Group blocks into messages of at most 50 blocks and about 12,000 characters each."""
    messages: list[list[dict]] = []
    current: list[dict] = []
    size = 0
    for block in blocks:
        weight = block_text(block)
        if current and (len(current) >= MAX_BLOCKS or size + weight > MAX_MESSAGE_CHARS):
            messages.append(current)
            current, size = [], 0
        current.append(block)
        size += weight
    if current:
        messages.append(current)
    return messages


def fallback_text(blocks: Iterable[dict], limit: int = 300) -> str:
    """The notification text of a message: its first heading or section."""
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict) and text.get("text"):
            return _truncate(text["text"], limit)
    return "Integrity Check"


def reply_messages(reply: Reply) -> list[list[dict]]:
    """A core reply as one or more Slack messages' blocks (files are sent separately)."""
    blocks = reply_blocks(reply)
    if not blocks and reply.files:
        blocks = [_section(f"Attached: {', '.join(escape(f.name) for f in reply.files)}")]
    return split_messages(blocks)


#: Ends a first screen whose "more" follows in the message's thread.
MORE_IN_THREAD = "More in the thread below: the detail behind this."


def reply_parts(reply: Reply, more_note: str = "") -> tuple[list[list[dict]], list[list[dict]]]:
    """A core reply as the messages of its first screen, and the messages of what lies behind
    its fold (`Reply.fold`, "more"), which is empty when the reply has no fold or nothing
    after it. `more_note` ends the first screen: where the rest is (files are left out)."""
    more = reply_blocks(Reply(reply.more))
    if not more:
        return reply_messages(reply), []
    first = reply_blocks(Reply(reply.first_screen))
    if more_note:
        first.append(_context(more_note))
    return split_messages(first), split_messages(more)


# -- check-ins --------------------------------------------------------------------


def action_value(round_: Round, question: Question, **extra: Any) -> str:
    return json.dumps({"round": round_.id, "question": question.id, **extra})


def _answer_status(answer: Answer | None, closes_at: datetime) -> str:
    if answer is None:
        return "Not answered yet."
    shown = f"{answer.rating}/5" if answer.rating is not None else "no rating"
    why = "with your why" if answer.text else "no why yet"
    return (
        f":white_check_mark: Thanks — {shown} recorded, {why}. "
        f"You can change it until {slack_date(closes_at, '{date_long_pretty}')}."
    )


def question_blocks(
    round_: Round, number: int, question: Question, answer: Answer | None
) -> list[dict]:
    """One question of a check-in: the text, rating buttons 1-5 with both ends labelled, why.
    A text-only question (no scale) has only the "why" button."""
    buttons = []
    for rating in () if question.text_only else range(1, 6):
        button = {
            "type": "button",
            "action_id": RATE_ACTION.format(rating=rating),
            "text": _plain(_scale_label(question, rating), 40),
            "value": action_value(round_, question, rating=rating),
        }
        if answer is not None and answer.rating == rating:
            button["style"] = "primary"
        buttons.append(button)
    buttons.append(
        {
            "type": "button",
            "action_id": WHY_ACTION,
            "text": _plain(
                ("Edit answer" if question.text_only else "Edit why")
                if answer is not None and answer.text
                else ("Answer in words" if question.text_only else "Add why")
            ),
            "value": action_value(round_, question),
        }
    )
    return [
        _section(f"*{number}. {escape(question.text)}*"),
        {"type": "actions", "block_id": f"q:{round_.id}:{question.id}", "elements": buttons},
        _context(_answer_status(answer, round_.closes_at)),
    ]


def checkin_blocks(
    round_: Round, questions: Sequence[Question], answers: dict[str, Answer], *, floor: int
) -> list[dict]:
    """A person's check-in message: every question of the round for them, with what they said."""
    blocks: list[dict] = [
        {"type": "header", "text": _plain(f"Integrity check · round {round_.number}", 150)},
        _section(
            f"{counted(len(questions), 'question')}, about two minutes. The same questions go to "
            "executives and frontline staff; leadership then sees where the two views differ. "
            f"Open until {slack_date(round_.closes_at)}."
        ),
        _context(
            ":lock: Anonymous: your answers are stored under a pseudonym with only the day, "
            f"and nothing is shown for fewer than {floor} answers. `/integrity forget-me` "
            "deletes them."
        ),
        {"type": "divider"},
    ]
    for number, question in enumerate(questions, start=1):
        blocks += question_blocks(round_, number, question, answers.get(question.id))
    return blocks


def checkin_metadata(round_: Round) -> dict:
    """Message metadata that lets the bot find its own check-in again after a crash."""
    return {"event_type": CHECKIN_EVENT, "event_payload": {"round_id": round_.id}}


def reminder_blocks(
    round_: Round, unanswered: Sequence[Question], answers: dict[str, Answer]
) -> list[dict]:
    are = "is" if len(unanswered) == 1 else "are"
    blocks = [
        _section(
            f":wave: A reminder: round {round_.number} closes "
            f"{slack_date(round_.closes_at)}, and {counted(len(unanswered), 'question')} {are} "
            "waiting for you. It takes a minute, and it is anonymous."
        )
    ]
    for number, question in enumerate(unanswered, start=1):
        blocks += question_blocks(round_, number, question, answers.get(question.id))
    return blocks


def why_modal(
    round_: Round, question: Question, answer: Answer | None, message: dict | None
) -> dict:
    """The modal behind "Add why": one free-text box, the person's current why filled in."""
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "text",
        "multiline": True,
        "max_length": MAX_WHY_CHARS,
        "placeholder": _plain("In your own words", 150),
    }
    if answer is not None and answer.text:
        element["initial_value"] = answer.text
    return {
        "type": "modal",
        "callback_id": WHY_VIEW,
        "title": _plain("Why?", 24),
        "submit": _plain("Save", 24),
        "close": _plain("Cancel", 24),
        "private_metadata": json.dumps(
            {"round": round_.id, "question": question.id, "message": message}
        ),
        "blocks": [
            _section(f"*{escape(question.text)}*"),
            {
                "type": "input",
                "block_id": "why",
                "label": _plain(question.why_prompt, 2000),
                "element": element,
            },
            _context(":lock: Stored under a pseudonym with only the day; never with your name."),
        ],
    }


def answer_modal(round_: Round, questions: Sequence[Question], answers: dict[str, Answer]) -> dict:
    """The private way to answer a whole round: a 1-5 choice and a why box per question."""
    blocks: list[dict] = [
        _context(
            ":lock: Anonymous: stored under a pseudonym with only the day. Open until "
            f"{slack_date(round_.closes_at)}; you can come back and change your answers."
        )
    ]
    for number, question in enumerate(questions, start=1):
        mine = answers.get(question.id)
        options = [
            {"text": _plain(_scale_label(question, r)), "value": str(r)} for r in range(1, 6)
        ]
        select: dict[str, Any] = {
            "type": "static_select",
            "action_id": "rating",
            "placeholder": _plain("1-5", 150),
            "options": options,
        }
        if mine is not None and mine.rating is not None:
            select["initial_option"] = options[mine.rating - 1]
        text: dict[str, Any] = {
            "type": "plain_text_input",
            "action_id": "text",
            "multiline": True,
            "max_length": MAX_WHY_CHARS,
        }
        if mine is not None and mine.text:
            text["initial_value"] = mine.text
        rating_block = {
            "type": "input",
            "block_id": f"rating:{question.id}",
            "optional": True,
            "label": _plain(f"{number}. {question.text}", 2000),
            "element": select,
        }
        blocks += [
            *(() if question.text_only else (rating_block,)),
            {
                "type": "input",
                "block_id": f"why:{question.id}",
                "optional": True,
                "label": _plain(
                    f"{number}. {question.text}" if question.text_only else question.why_prompt,
                    2000,
                ),
                "element": text,
            },
        ]
    return {
        "type": "modal",
        "callback_id": ANSWER_VIEW,
        "title": _plain(f"Round {round_.number}", 24),
        "submit": _plain("Save", 24),
        "close": _plain("Cancel", 24),
        "private_metadata": json.dumps({"round": round_.id}),
        "blocks": blocks,
    }


def _scale_label(question: Question, rating: int) -> str:
    if rating == 1:
        return f"1 · {question.low_label}"
    if rating == 5:
        return f"5 · {question.high_label}"
    return str(rating)


def channel_post_blocks(round_: Round, questions: Sequence[Question]) -> list[dict]:
    """A round posted in a channel: the questions, "Answer privately", and how to reply here."""
    lines = "\n".join(
        f"*{n}.* {escape(q.text)}"
        + (
            "  _(in words)_"
            if q.text_only
            else f"  _(1 = {escape(q.low_label)} … 5 = {escape(q.high_label)})_"
        )
        for n, q in enumerate(questions, start=1)
    )
    return [
        {"type": "header", "text": _plain(f"Integrity check · round {round_.number}", 150)},
        _section(lines),
        {
            "type": "actions",
            "block_id": f"round:{round_.id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": ANSWER_PRIVATELY_ACTION,
                    "style": "primary",
                    "text": _plain("Answer privately"),
                    "value": json.dumps({"round": round_.id}),
                }
            ],
        },
        _context(
            ":lock: *Answer privately* is anonymous. Or reply in this thread to answer on the "
            "record, e.g. `1 4 because…` (question number, a rating from 1 to 5, and why): "
            f"everyone here sees it. Open until {slack_date(round_.closes_at)}."
        ),
    ]


def notice_modal(title: str, text: str) -> dict:
    """A modal that only tells something (e.g. the round closed), with an OK button."""
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title[:24]},
        "close": {"type": "plain_text", "text": "OK"},
        "blocks": [_section(escape(text))],
    }


# -- App Home ---------------------------------------------------------------------


def home_view(
    *,
    name: str,
    round_: Round | None,
    questions: Sequence[Question],
    answers: dict[str, Answer],
    rates: dict[str, Response] | None,
    summary: list[dict] | None,
    executive: bool,
    summary_label: str = "",
    privacy: Sequence[dict] = (),
) -> dict:
    """The App Home tab: your open questions, the response rate, for executives the summary,
    and for everyone the privacy text (`bot.core.privacy`)."""
    blocks: list[dict] = [
        {"type": "header", "text": _plain("Integrity Check", 150)},
        _context(
            "Every week the same questions go to executives and frontline staff. Answers are "
            "anonymous. `/integrity help` lists what you can do."
        ),
    ]
    if round_ is None:
        blocks.append(_section(f"Hi {escape(name)}, no round is open right now."))
    else:
        left = [q for q in questions if q.id not in answers]
        blocks.append(
            _section(
                f"*Round {round_.number}* is open until {slack_date(round_.closes_at)}. "
                f"You have answered {len(questions) - len(left)} of your "
                f"{counted(len(questions), 'question')}."
            )
        )
        for number, question in enumerate(questions, start=1):
            mine = answers.get(question.id)
            said = "not answered"
            if mine is not None:
                said = f"{mine.rating}/5" if mine.rating is not None else "text only"
            blocks.append(_section(f"{number}. {escape(question.text)}  — _{said}_"))
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": ANSWER_PRIVATELY_ACTION,
                        "style": "primary",
                        "text": _plain("Answer" if left else "Change my answers"),
                        "value": json.dumps({"round": round_.id}),
                    }
                ],
            }
        )
        if rates is not None:
            blocks.append(
                _context(
                    "Response so far: "
                    + " · ".join(
                        f"{label} {c.fraction}"
                        for label, c in (
                            ("executives", rates["executive"]),
                            ("frontline", rates["frontline"]),
                        )
                    )
                )
            )
    if executive:
        title = "*Latest summary*" + (f" · {escape(summary_label)}" if summary_label else "")
        blocks += [
            {"type": "divider"},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": title},
                "accessory": {
                    "type": "button",
                    "action_id": HOME_SUMMARY_ACTION,
                    "text": _plain("New summary"),
                    "value": "latest",
                },
            },
        ]
        room = MAX_HOME_BLOCKS - len(blocks) - 1 - (len(privacy) + 1 if privacy else 0)
        if summary is None:
            blocks.append(_context("No summary yet: press *New summary*."))
        elif len(summary) > room:
            blocks += summary[: room - 1]
            blocks.append(_context("…more in `/integrity summary`."))
        else:
            blocks += summary
    if privacy:
        blocks += [{"type": "divider"}, *privacy]
    return {"type": "home", "blocks": blocks}
