"""Junk detection for answers: empty, placeholders, slips, keyboard mashing, repetition.

Junk answers still count toward a side's n (someone did answer), and a rated one's
rating still counts, but the text is never quoted, read for a stance or made part of
a theme. The rules are deliberately conservative: a short but real answer ("No.",
"Slow support", "None.", "No comment") is not junk; a placeholder that says nothing
of the question ("n/a", "see above", "tbc") is, and so is a slip that says it is one
("sorry, wrong button").
"""

from __future__ import annotations

import re

_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890")
# Runs of four neighbouring keys; English words almost never contain them ("erty"
# does, in "property", so the top row needs five).
_MASH_RUNS = {
    row[i : i + (5 if row == "qwertyuiop" else 4)]
    for row in _KEYBOARD_ROWS
    for i in range(len(row) - 3)
    if len(row[i : i + (5 if row == "qwertyuiop" else 4)]) >= 4
}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_REPEATED_CHUNK = re.compile(r"^(.{1,6}?)\1{3,}$", re.S)
_VOWELS = set("aeiouyàâäéèêëîïôöùûüáíóúå")
#: Words that say nothing however often they are typed.
_FILLERS = frozenset({"bla", "blah", "lol", "haha", "hah", "hmm", "meh", "yada", "etc", "xxx"})
#: Placeholders people type into a box they must fill: they answer nothing.
_PLACEHOLDER = re.compile(
    r"^(?:(?:n/?a|n\.a\.?|see above|as above|same as above|see previous( answer)?|ditto|"
    r"tbc|tbd|test(?:ing)?|xx*|-+)[\s.!,;]*)+$"
)

#: A slip that says so ("sorry wrong button", "um is it recording now"): an apology or a
#: filler first, then the slip itself, in a few words. It is about the answering, not
#: the question.
_SLIP = re.compile(
    r"^(?:um+|uh+|er+m?|oops|whoops|sorry|soz|apologies|my bad|hang on|wait)\b.*\b(?:"
    r"wrong (?:button|box|question|chat|channel|thread|person)|by mistake|by accident|"
    r"pocket (?:dial|message)|is (?:it|this) (?:recording|working|on)|meant to (?:send|type)|"
    r"didn'?t mean to|ignore (?:this|that|me))\b"
)
#: An answer longer than this says something, whatever it opens with.
_SLIP_WORDS = 10


def find_junk(text: str, *, rated: bool = False) -> str | None:
    """Why the answer is junk, or None. An empty text is fine when the answer has a rating."""
    stripped = text.strip()
    if not stripped:
        return None if rated else "junk: empty answer"
    words = _WORD.findall(stripped.lower())
    if not re.search(r"\w", stripped):  # "........": the rating, if any, still counts
        return "junk: no words"
    if not words:  # "€29", "40%": a figure is an answer
        return None
    if _PLACEHOLDER.match(stripped.lower()):
        return "junk: a placeholder, not an answer"
    squashed = re.sub(r"\s+", "", stripped.lower())
    if len(squashed) >= 8 and _REPEATED_CHUNK.match(squashed):
        return "junk: pure repetition"
    # "no no no no", "blah blah blah"; but "Margins, margins, margins." is an answer.
    if len(words) >= 3 and len(set(words)) == 1 and (len(words[0]) <= 2 or words[0] in _FILLERS):
        return "junk: pure repetition"
    if len(words) <= _SLIP_WORDS and _SLIP.search(stripped.lower()):
        return "junk: a slip, not an answer"
    mashed = [w for w in words if _is_mash(w)]
    if mashed and sum(map(len, mashed)) >= 0.5 * sum(map(len, words)):
        return "junk: keyboard mashing"
    return None


def _is_mash(word: str) -> bool:
    if len(word) >= 4 and any(run in word for run in _MASH_RUNS):
        return True
    if len(word) >= 5 and not (set(word) & _VOWELS):
        return True
    # Long consonant runs ("sdfkjhgkjh") are not English.
    return len(word) >= 6 and re.search(r"[^aeiouy]{6,}", word) is not None
