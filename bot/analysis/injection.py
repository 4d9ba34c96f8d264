"""Prompt-injection detection for answers: text written to steer the summariser.

Answers are free text from anyone in the company, and the LLM engine puts them
in a prompt. `find_injection` spots the common shapes (ignore previous
instructions, role play, fake system or chat-template markers, orders aimed at
the summary) so both engines can flag such answers and never quote them. It
favours precision: ordinary workplace complaints must not trip it.
"""

from __future__ import annotations

import re

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "asks to ignore earlier instructions",
        re.compile(
            r"\b(ignore|disregard|forget|override|skip)\b[\w\s,]{0,20}?"
            r"(\b(previous|prior|above|earlier|preceding|system)\b[\w\s]{0,20}?"
            r"\b(instructions?|prompts?|rules|guidelines|directions|context)\b"
            r"|\b(all|any|your|the|these)\s+(instructions?|prompts?)\b)",
            re.I,
        ),
    ),
    (
        "tries to give the model a new role",
        re.compile(r"\byou are now\b|\bfrom now on,? you\b", re.I),
    ),
    (
        "tries to give the model a new role",
        re.compile(
            r"\b(pretend (to be|you are|you're)|act as (an?|the) (ai|assistant|model))\b", re.I
        ),
    ),
    ("mentions the system prompt", re.compile(r"\bsystem (prompt|message|instructions?)\b", re.I)),
    ("mentions jailbreaking", re.compile(r"\b(jailbreak|developer mode|DAN mode)\b", re.I)),
    ("gives new instructions", re.compile(r"\bnew instructions?\s*:", re.I)),
    (
        "contains chat-template markers",
        re.compile(
            r"<\|?(im_start|im_end|system|endoftext)\|?>|\[/?INST\]|^\s*#{2,}\s*system\b",
            re.I | re.M,
        ),
    ),
    (
        "contains prompt delimiters",
        re.compile(r"</?\s*(answers?|themes?|data|instructions?|system|user)\s*>", re.I),
    ),
    (
        "contains a fake role header",
        re.compile(r"^\s*(system|assistant)\s*:", re.I | re.M),
    ),
    (
        "gives orders to the summariser",
        re.compile(
            r"\b(the|your|this) (summary|summariser|summarizer|analysis|report|model|ai|llm|bot)\b"
            r"[\w\s]{0,15}\b(must|should|shall|needs to|has to)\b[\w\s]{0,15}"
            r"\b(say|state|report|conclude|show|ignore|omit|claim)\b",
            re.I,
        ),
    ),
    (
        "asks to reveal hidden instructions",
        re.compile(
            r"\b(reveal|print|repeat|show)\b[\w\s]{0,15}\b(your|the)\b[\w\s]{0,10}"
            r"\b(prompt|instructions)\b",
            re.I,
        ),
    ),
]


def find_injection(text: str) -> str | None:
    """Why the text looks like a prompt-injection attempt, or None when it does not."""
    if not text:
        return None
    for reason, pattern in _PATTERNS:
        if pattern.search(text):
            return f"possible prompt injection: {reason}"
    return None
