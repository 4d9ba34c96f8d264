"""A count is worded the way a person would say it: "1 answer", "19 answers", never
"answer(s)"."""

from __future__ import annotations

import pytest

from bot.core.replies import counted


@pytest.mark.parametrize(
    "n,words",
    [(0, "0 answers"), (1, "1 answer"), (2, "2 answers"), (19, "19 answers")],
)
def test_a_count_takes_the_noun_in_its_number(n, words):
    assert counted(n, "answer") == words


def test_an_irregular_plural_is_given():
    assert counted(1, "reply", "replies") == "1 reply"
    assert counted(3, "reply", "replies") == "3 replies"


def test_a_noun_of_several_words_is_pluralised_at_its_end():
    assert counted(1, "question group") == "1 question group"
    assert counted(4, "bad row") == "4 bad rows"
