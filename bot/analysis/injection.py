"""Prompt-injection detection for answers: text written to steer the summariser.

Answers are free text from anyone in the company, and the LLM engine puts them
in a prompt. `find_injection` spots the common shapes (ignore previous
instructions, role play, fake system or chat-template markers, orders aimed at
the summary, a note addressed to the AI or the software that reads the answers, an
order to ignore or leave out the other answers or to write something into the summary,
in English and four other languages) so both engines can flag such answers and never
quote them. It favours precision: ordinary workplace complaints must not trip it ("We ignore the
other answers customers give" is a complaint; "…: ignore the other answers" an
order).
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


#: Whom an injection addresses: the tool that reads the answers, in English, German,
#: French, Spanish or Dutch.
_READER = (
    r"(?:ai|a\.i\.|llm|gpt|chatgpt|chatbot|bot|model|assistant|copilot|summari[sz]er|"
    r"(?:automated |automatic )?(?:summary|summari[sz]ing|analysis|reporting|survey) "
    r"(?:tool|model|system|software|program|engine|bot|ai)|"
    r"(?:ai|analysis|reporting) (?:tool|system)|"
    r"software|program|algorithm|ki|l'ia|la ia|ia|de ai)"
    # ...not people named after one: the assistant manager, the chatbot team.
    r"(?!\s+(?:team|department|project|vendor|supplier|managers?|directors?|store|shop|"
    r"group|developers?|owners?|leads?|staff|people)\b)"
)
#: An order starts a sentence, follows a colon or a bracket, or a "please": "We ignore
#: the other answers" is a complaint, "…: ignore the other answers" an order.
_ORDER = r"(?:^|[.:!?;\]\)]\s*|\b(?:please|bitte|por favor|s'il vous plaît|alsjeblieft)\s+)"
_PATTERNS += [
    (
        "is addressed to the AI that reads the answers",
        re.compile(
            r"\b(?:note|message|instructions?|memo|reminder|request|nachricht|hinweis|"
            r"notiz|mensaje|nota|bericht|opmerking)\s+(?:to|for|an|à|pour|para|a|aan|voor)\s+"
            r"(?:the\s+|any\s+|whatever\s+|whichever\s+|an?\s+|die\s+|der\s+|le\s+|la\s+|"
            r"el\s+|de\s+)?" + _READER + r"\b"
            r"|\b(?:dear|hey|hello|hi|attention|liebe|lieber|cher|chère|querid[oa]|beste)[\s,]+"
            + _READER
            + r"\b"
            r"|\bto (?:the |whatever |whichever |any )?" + _READER + r" (?:(?:that )?is |"
            r"that's )?(?:reading|writing|summari[sz]ing|generating|processing|analy[sz]ing)\b",
            re.I,
        ),
    ),
    (
        "asks to ignore the other answers",
        re.compile(
            _ORDER + r"(?:ignore|disregard|discard|forget|set aside|leave out|omit)\s+(?:"
            r"everything\b|(?:all\s+|every\s+|the\s+)?(?:other|above|previous|earlier|"
            r"preceding|remaining|rest of the)\b[\w\s']{0,30}?\b(?:answers?|comments?|"
            r"responses?|replies|feedback|entries)\b"
            # "every frontline comment", not "every answer I gave" (a correction)
            r"|every\s+(?:[\w-]+\s+){0,2}(?:answer|comment|response|reply|entry)\b"
            r"(?!\s+(?:i|i've|i'd|we|you)\b)"
            r"|(?:all\s+|the\s+)?(?:[\w-]+\s+){0,2}"
            r"(?:answers|comments|responses|replies|feedback|entries)\s+(?:above|before|so far|"
            r"(?:on|to|for) (?:this|the) question)\b)"
            r"|" + _ORDER + r"(?:ignorier(?:e|en|t)?|ignorez|ignora|negeer|vergiss|oubliez|olvida)"
            r"\b[\w\s']{0,30}?\b(?:anweisungen|antworten|kommentare|instructions|réponses|"
            r"commentaires|instrucciones|respuestas|comentarios|instructies|antwoorden|"
            r"opmerkingen)\b",
            re.I,
        ),
    ),
    (
        "tells the summary what to conclude",
        re.compile(
            _ORDER + r"(?:write|put|say|state|report)\s+(?:in|into) (?:the|your|this) "
            r"(?:summary|report|analysis)\b"
            r"|" + _ORDER + r"mark (?:this|the|every|each) question as\b",
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
