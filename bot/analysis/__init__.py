"""The analysis engine: themes, and contradictions between executives and frontline.

`analyse()` is the one entry point the core, the adapters and the `analyse`
command call. The offline engine is the default; the LLM engine runs when a model
is configured and falls back to the offline result when its output fails
verification.
"""

from bot.analysis.models import (
    Analysis,
    AnswerRecord,
    Contradiction,
    Flag,
    FollowUp,
    HiddenGroup,
    QuestionInfo,
    QuestionResult,
    Quote,
    SideFigures,
    Theme,
)

__all__ = [
    "Analysis",
    "AnswerRecord",
    "Contradiction",
    "Flag",
    "FollowUp",
    "HiddenGroup",
    "QuestionInfo",
    "QuestionResult",
    "Quote",
    "SideFigures",
    "Theme",
]
