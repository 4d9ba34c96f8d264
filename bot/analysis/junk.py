"""Junk detection for answers: empty, keyboard mashing, pure repetition.

Junk answers still count toward a side's n (someone did answer) but are never
quoted and never stand for a theme. The rules are deliberately conservative: a
short but real answer ("No.", "Slow support") is not junk.
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


def find_junk(text: str, *, rated: bool = False) -> str | None:
    """Why the answer is junk, or None. An empty text is fine when the answer has a rating."""
    stripped = text.strip()
    if not stripped:
        return None if rated else "junk: empty answer"
    words = _WORD.findall(stripped.lower())
    if not words:
        return None if rated else "junk: no words"
    squashed = re.sub(r"\s+", "", stripped.lower())
    if len(squashed) >= 8 and _REPEATED_CHUNK.match(squashed):
        return "junk: pure repetition"
    if len(words) >= 3 and len(set(words)) == 1:
        return "junk: pure repetition"
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
