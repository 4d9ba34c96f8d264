"""Verbatim quotes: how an answer is excerpted, and when a cited text is really a quote of it.

Every quote a reader sees, from either engine, is words the answer's author wrote, in their
order, cut only at word boundaries. The offline engine picks its quotes with `excerpt`; the
verifier (`bot.analysis.verify`) checks the model's quotes with `find_verbatim`. A title the
engine has to write itself, when the model's one is not borne out by its answers, is a short
phrase of the theme's most representative answer (`phrase_title`).
"""

from __future__ import annotations

import re

#: A quote shorter than this is an out-of-context fragment, unless it is the whole answer.
MIN_QUOTE_WORDS = 4
QUOTE_MAX_CHARS = 300
#: Quotation marks and ellipses a model may wrap a quote in; they are not part of it.
QUOTE_MARKS = "\"'“”‘’«» "
TITLE_WORDS = 8

_SENTENCE_END = re.compile(r"[.!?…](?=\s)")
_CLAUSE_END = re.compile(r"[.!?…;:,—–](?=\s|$)")


def normalise(text: str) -> str:
    """Whitespace collapsed to single spaces, ends trimmed."""
    return " ".join(text.split())


def excerpt(text: str, limit: int = QUOTE_MAX_CHARS) -> str:
    """The answer itself, or its leading sentences when long: always an exact substring."""
    text = text.strip()
    if len(text) <= limit:
        return text
    ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, limit + 1) if m.end() >= 40]
    if ends:
        return text[: ends[-1]]
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > 0 else limit].rstrip()


def strip_marks(text: str) -> str:
    """A cited text without the quotation marks and trailing ellipsis a model wraps it in."""
    text = normalise(text).strip(QUOTE_MARKS)
    text = text.removesuffix("...").removesuffix("…")
    return text.strip(QUOTE_MARKS)


def find_verbatim(cited: str, answer: str) -> str | None:
    """`cited` as a quote of `answer`, or None.

    A quote is kept when, after whitespace normalisation and without the quotation marks around
    it, it occurs in the answer starting and ending on word boundaries (no "ustomers are
    happ"), and it is at least `MIN_QUOTE_WORDS` words long or the whole answer."""
    text = strip_marks(cited)
    source = normalise(answer)
    if not text:
        return None
    if len(text.split()) < MIN_QUOTE_WORDS and text != source:
        return None
    start = source.find(text)
    while start != -1:
        end = start + len(text)
        starts_clean = start == 0 or not (source[start - 1].isalnum() and text[0].isalnum())
        ends_clean = end == len(source) or not (source[end].isalnum() and text[-1].isalnum())
        if starts_clean and ends_clean:
            return text
        start = source.find(text, start + 1)
    return None


def phrase_title(text: str, words: int = TITLE_WORDS) -> str:
    """A short title taken from an answer: its first clause, at most `words` words."""
    flat = normalise(text)
    end = _CLAUSE_END.search(flat)
    clause = flat[: end.start()] if end and end.start() > 0 else flat
    parts = clause.split()
    title = " ".join(parts[:words]).strip(QUOTE_MARKS + "-")
    if len(parts) > words:
        title += "…"
    return title[:1].upper() + title[1:]
