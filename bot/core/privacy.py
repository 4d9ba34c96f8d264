"""What the bot keeps about a person, what executives can and cannot see, and how to be
forgotten: the one text `/integrity privacy`, the Slack App Home and the Teams welcome show.

Written once, here, so every surface makes the same promise in the same words; the README's
"How anonymity works" is the long version, and each sentence here must stay true of the code
(`bot.core.anonymity`, `IntegrityCheck.view`, `IntegrityCheck.forget_me`).
"""

from __future__ import annotations

from bot.core.anonymity import Floor
from bot.core.replies import Heading, Reply, Text

TITLE = "Your privacy"


def privacy_points(floor: Floor) -> list[tuple[str, str]]:
    """The promise, as (topic, plain sentence) pairs."""
    n = floor.size
    return [
        (
            "What is kept about you",
            "your name, chat id, role, team and time zone, and which check-ins were sent to "
            "you, to send check-ins and reminders. Whether you answered is never stored: it is "
            "worked out with the bot's secret key when a reminder or a response rate needs it.",
        ),
        (
            "Your answers",
            "are stored under a code that changes every round and cannot be traced to you "
            "without the bot's secret key; never with your name. With each answer: its round "
            "and question, your rating and words (and your guess of what customers would say, "
            "if you gave one), your role and team, and no time finer than the day.",
        ),
        (
            "For how long",
            "until you ask to be forgotten: nothing expires on its own.",
        ),
        (
            "What executives and admins see",
            "while a round is open, only how many have answered (a count under "
            f"{n} shows as “fewer than {n}”). Once it closes: summaries, trends and exports "
            "of the answers, words and ratings with their round, question and role, and the "
            "team only where the team gave enough answers. Never a name next to an answer. "
            "They may share a closed round's summary, as they see it, with everyone who was "
            "asked or with a channel.",
        ),
        (
            "What they can never see",
            f"who wrote an answer, or anything about fewer than {n} answers: no quote, rating "
            "or average of so few, in any view, nor by comparing one view with another (a "
            "team's answers stay hidden when the rest of the round's would be too few).",
        ),
        (
            "On the record",
            "an answer you post in a public thread is seen there with your name; answer "
            "privately to stay anonymous.",
        ),
        (
            "To be forgotten",
            "send `/integrity forget-me confirm`: your answers, proposals and record are "
            "deleted at once. Summaries and exports read before then keep what they showed.",
        ),
    ]


def privacy_reply(floor: Floor) -> Reply:
    """The privacy text as a reply, for chat and the Slack App Home."""
    reply = Reply([Heading(TITLE)])
    for topic, sentence in privacy_points(floor):
        reply.add(Text(f"{topic}: {sentence}"))
    return reply


def privacy_text(floor: Floor) -> str:
    """The same text as plain lines, for a welcome message."""
    lines = [f"{TITLE}:"]
    lines += [f"- {topic}: {sentence}" for topic, sentence in privacy_points(floor)]
    return "\n".join(lines)
