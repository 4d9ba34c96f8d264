"""What the model replies: the Pydantic schemas of the LLM engine's structured output.

The engine (`bot.analysis.llm`) sends them to the model; the verifier
(`bot.analysis.verify`) judges what comes back. They live apart from both so that
neither imports the other for them.

The reply is kept small on purpose, so that a batch's faithful reply fits a few hundred
tokens and a small model with a short reply limit can finish it: a theme names only a
few **representative** answers (the engine assigns the other members itself, by their
embeddings), and every text has a length limit. The limits are announced in the schema
(maxLength/maxItems), so a grammar-constrained server (llama.cpp) or a strict schema
closes the reply within them, and a reply that runs over is cut to them rather than lost.
The fields carry no descriptions: the system prompt explains them once, and the schema is
sent with every call.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field

THEMES_PER_BATCH = 6
MAX_CONTRADICTIONS_PER_BATCH = 6
#: Answers a theme names as its most typical: the engine finds the rest of its members.
REPRESENTATIVES_PER_THEME = 3
QUOTES_PER_THEME = 2
QUOTES_PER_SIDE = 3
MAX_THEMES = 10
TITLE_CHARS = 80
GIST_CHARS = 200
QUOTE_CHARS = 300
SUMMARY_CHARS = 300
FOLLOW_UP_CHARS = 200


def _bounded(kind: Any, limit: int) -> Any:
    """`kind` (str or a list) with at most `limit` characters or items, announced in the
    schema and cut to it when a model runs over anyway."""
    key = "maxLength" if kind is str else "maxItems"
    cut = BeforeValidator(lambda value: value[:limit] if isinstance(value, str | list) else value)
    return Annotated[kind, cut, Field(json_schema_extra={key: limit})]


class CitedQuote(BaseModel):
    answer_id: _bounded(str, 12)
    text: _bounded(str, QUOTE_CHARS)


class FoundTheme(BaseModel):
    title: _bounded(str, TITLE_CHARS)
    gist: _bounded(str, GIST_CHARS)
    representative_ids: _bounded(list[str], REPRESENTATIVES_PER_THEME)
    quotes: _bounded(list[CitedQuote], QUOTES_PER_THEME)


class FoundContradiction(BaseModel):
    question_id: _bounded(str, 12)
    summary: _bounded(str, SUMMARY_CHARS)
    executive_quotes: _bounded(list[CitedQuote], QUOTES_PER_SIDE)
    frontline_quotes: _bounded(list[CitedQuote], QUOTES_PER_SIDE)
    follow_up: _bounded(str, FOLLOW_UP_CHARS)


class BatchFindings(BaseModel):
    """Themes and contradictions in one batch of answers."""

    themes: _bounded(list[FoundTheme], THEMES_PER_BATCH)
    contradictions: _bounded(list[FoundContradiction], MAX_CONTRADICTIONS_PER_BATCH)


class MergedTheme(BaseModel):
    title: _bounded(str, TITLE_CHARS)
    gist: _bounded(str, GIST_CHARS)
    theme_ids: _bounded(list[str], 60)


class MergedThemes(BaseModel):
    """The batches' themes merged into one list."""

    themes: _bounded(list[MergedTheme], MAX_THEMES)
