"""Fixtures for the analysis tests: the labelled fixture, its labels, and one
WordLlama embedder for the whole session (loading it is the slow part)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.analysis.embeddings import WordLlamaEmbedder, default_embedder
from bot.analysis.loader import load_answers
from bot.analysis.models import AnswerRecord, QuestionInfo

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def embedder() -> WordLlamaEmbedder:
    return default_embedder()


@pytest.fixture(scope="session")
def labelled_answers() -> list[AnswerRecord]:
    return load_answers(FIXTURES / "labelled.jsonl")


@pytest.fixture(scope="session")
def labels() -> dict[str, Any]:
    return json.loads((FIXTURES / "labels.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def question_infos(
    labelled_answers: list[AnswerRecord], labels: dict[str, Any]
) -> list[QuestionInfo]:
    texts = {a.question_id: a.question for a in labelled_answers}
    return [
        QuestionInfo(id=qid, text=texts[qid], low_label=scale["low"], high_label=scale["high"])
        for qid, scale in labels["scales"].items()
    ]
