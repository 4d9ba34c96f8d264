"""LLM engine cost benchmark: calls and prompt tokens per answer token, with a counting model.

The engine runs on `benchmarks/analysis.py`'s synthetic answers with a scripted chat
model (`tests.analysis.fake_chat`) that answers like a careful model (grounded
themes and contradictions) and counts what it is sent. Prompt tokens are every
message of every call (map and reduce) **plus the reply schema**, which a real
model reads too; answer tokens are the texts of the answers the engine sends.
Both are counted with the engine's own conservative estimate
(`bot.analysis.tokens`), at the default context of 8192 tokens.

Aim (issue #7): at most 1.5 prompt tokens per answer token at 10,000 answers.

Run: `python benchmarks/llm_cost.py [N]`; the last line is
`answers=… llm_calls=… prompt_tokens=… answer_tokens=… prompt_tokens_per_answer_token=…`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def measure(n: int, context_tokens: int | None = None) -> dict:
    """Analyse n synthetic answers with the counting model; return its figures."""
    from analysis import synthetic_answers

    from bot.analysis.llm import LLMSettings, _Run, analyse_with_llm
    from bot.analysis.models import AnswerRecord
    from bot.analysis.offline import analyse_offline
    from bot.analysis.tokens import estimate_tokens
    from tests.analysis.fake_chat import ScriptedChatModel, grounded_reply

    answers = [AnswerRecord(**row) for row in synthetic_answers(n)]
    offline = analyse_offline(answers, min_group=5)

    model = ScriptedChatModel(reply=grounded_reply)
    settings = LLMSettings(context_tokens=context_tokens) if context_tokens else LLMSettings()
    start = time.perf_counter()
    result = analyse_with_llm(answers, offline=offline, llm=model, min_group=5, settings=settings)
    seconds = time.perf_counter() - start
    if not result.engine.startswith("llm:"):
        raise SystemExit(f"the engine fell back to offline: {result.notes[-1]}")
    from langchain_core.utils.function_calling import convert_to_openai_tool

    from bot.analysis.findings import BatchFindings, MergedThemes

    # The schema as LangChain sends it (the tool, or the json_schema response format).
    schemas = {
        schema.__name__: estimate_tokens(json.dumps(convert_to_openai_tool(schema)))
        for schema in (BatchFindings, MergedThemes)
    }
    prompt_tokens = sum(
        sum(estimate_tokens(str(m.content)) + 4 for m in prompt) + schemas[name]
        for prompt, name in zip(model.prompts, model.tool_names, strict=True)
    )
    sent = _Run(offline, model, settings).sendable(answers)
    answer_tokens = sum(estimate_tokens(a.text) for a in sent)
    return {
        "answers": n,
        "context_tokens": settings.context_tokens,
        "llm_calls": len(model.prompts),
        "map_calls": model.tool_names.count("BatchFindings"),
        "prompt_tokens": prompt_tokens,
        "answer_tokens": answer_tokens,
        "prompt_tokens_per_answer_token": round(prompt_tokens / answer_tokens, 3),
        "engine_seconds": round(seconds, 2),
        "themes": len(result.themes),
        "contradictions": len(result.contradictions),
    }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    for context in (8192, 32768):
        other = measure(n, context)
        print(
            f"at a {context}-token context: {other['llm_calls']} calls, "
            f"{other['prompt_tokens_per_answer_token']} prompt tokens per answer token"
        )
    figures = measure(n)
    print(
        f"{n} answers at the default {figures['context_tokens']}-token context: "
        f"{figures['llm_calls']} calls ({figures['map_calls']} map), "
        f"{figures['prompt_tokens']} prompt tokens for {figures['answer_tokens']} answer tokens, "
        f"engine time {figures['engine_seconds']} s without the model"
    )
    print(
        " ".join(
            f"{key}={figures[key]}"
            for key in (
                "answers",
                "llm_calls",
                "prompt_tokens",
                "answer_tokens",
                "prompt_tokens_per_answer_token",
            )
        )
    )


if __name__ == "__main__":
    main()
