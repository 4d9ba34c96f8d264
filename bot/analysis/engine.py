"""The analysis entry point: `analyse()` picks the engine and keeps the contract.

The offline engine always runs: it is the result when no model is configured and
the fallback the LLM engine returns to when its own output fails verification.
When a model is given and the LLM engine is installed, the offline result is
handed to it as grounding (its figures, themes and flags) and its verified result
is returned.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from typing import Any

from bot.analysis.customers import add_customer_side, split_voices
from bot.analysis.models import Analysis, AnswerRecord, HiddenGroup, Progress, QuestionInfo
from bot.analysis.offline import analyse_offline


def analyse(
    answers: Sequence[AnswerRecord],
    *,
    min_group: int,
    questions: Sequence[QuestionInfo] = (),
    llm: Any | None = None,
    withheld: Sequence[HiddenGroup] = (),
    progress: Callable[[Progress], None] | None = None,
) -> Analysis:
    """Analyse a round's answers: offline always, then with the LLM engine when `llm` is given;
    customers' answers, if any, beside the result. `withheld`: sides the core kept back under
    the anonymity floor (see `analyse_offline`). `progress` hears how far a long LLM run has
    got (after each call), for a status line."""
    staff, customers = split_voices(answers)
    analysis = _analyse_staff(
        staff,
        min_group=min_group,
        questions=questions,
        llm=llm,
        withheld=withheld,
        progress=progress,
    )
    return add_customer_side(analysis, customers, min_group=min_group, staff=staff)


def _analyse_staff(
    answers: Sequence[AnswerRecord],
    *,
    min_group: int,
    questions: Sequence[QuestionInfo],
    llm: Any | None,
    withheld: Sequence[HiddenGroup] = (),
    progress: Callable[[Progress], None] | None = None,
) -> Analysis:
    offline = analyse_offline(answers, min_group=min_group, questions=questions, withheld=withheld)
    if llm is None:
        return _without_texts(offline)
    if importlib.util.find_spec("bot.analysis.llm") is None:
        offline.notes.append("An LLM was configured but the LLM engine is not installed.")
        return _without_texts(offline)
    from bot.analysis.llm import analyse_with_llm

    result = analyse_with_llm(
        answers,
        offline=offline,
        llm=llm,
        min_group=min_group,
        questions=questions,
        progress=progress,
    )
    return _without_texts(result)


def _without_texts(analysis: Analysis) -> Analysis:
    """The analysis as it leaves the engine: without the offline engine's embedded texts
    (`Analysis.placed`, which the LLM engine reuses), so what is kept never holds them."""
    analysis.placed = None
    return analysis
