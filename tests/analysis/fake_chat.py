"""A scripted chat model for the LLM engine's tests and cost benchmark.

LangChain's fake chat models cannot `bind_tools`, so `with_structured_output`
refuses them. `ScriptedChatModel` subclasses `FakeMessagesListChatModel` and adds
it: the structured-output call binds the schema as a tool, and the model answers
with a tool call whose arguments come from `reply(schema_name, messages)`. Every
prompt is recorded (`prompts`), so tests can assert what was and was not sent.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool

Reply = Callable[[str, list[BaseMessage]], dict | Exception]


class ScriptedChatModel(FakeMessagesListChatModel):
    """Answers each structured call with `reply(tool_name, messages)`; records every prompt."""

    responses: list[BaseMessage] = []
    reply: Any = None  # Reply
    model_name: str = "scripted"
    prompts: list[list[BaseMessage]] = []
    tool_names: list[str] = []
    _lock: Any = None

    def model_post_init(self, context: Any) -> None:
        super().model_post_init(context)
        object.__setattr__(self, "_lock", threading.Lock())
        object.__setattr__(self, "_ids", itertools.count(1))

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any):
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs):
        tools = kwargs.get("tools") or []
        name = tools[0]["function"]["name"] if tools else ""
        with self._lock:
            self.prompts.append(list(messages))
            self.tool_names.append(name)
            call_id = f"call_{next(self._ids)}"
        answer = self.reply(name, list(messages))
        if isinstance(answer, Exception):
            raise answer
        message = AIMessage(content="", tool_calls=[{"name": name, "args": answer, "id": call_id}])
        return ChatResult(generations=[ChatGeneration(message=message)])


def prompt_text(messages: list[BaseMessage]) -> str:
    return "\n".join(str(m.content) for m in messages)


def answer_block(messages: list[BaseMessage]) -> str:
    """What the human message holds between <answers> and </answers>."""
    text = messages[-1].content
    return text.split("<answers>", 1)[1].split("</answers>", 1)[0]


def answer_lines(messages: list[BaseMessage]) -> dict[str, str]:
    """`{"A1": "text", …}` from a map prompt."""
    lines = {}
    for line in answer_block(messages).strip().splitlines():
        alias, sep, text = line.partition(": ")
        if sep and alias.startswith("A") and alias[1:].isdigit():
            lines[alias] = text
    return lines


def answer_groups(messages: list[BaseMessage]) -> dict[tuple[str, str], dict[str, str]]:
    """`{("Q2", "frontline"): {"A7": "text", …}, …}` from a map prompt's headings and lines."""
    groups: dict[tuple[str, str], dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in answer_block(messages).strip().splitlines():
        head = line.rstrip(":").split(" ")
        if line.endswith(":") and len(head) == 2 and head[0].startswith("Q"):
            current = groups.setdefault((head[0], head[1]), {})
            continue
        alias, sep, text = line.partition(": ")
        if sep:
            current[alias] = text
    return groups


def diverging_questions(messages: list[BaseMessage]) -> list[str]:
    """The question ids the facts call a disagreement."""
    facts = messages[-1].content.split("<answers>", 1)[0]
    return [
        line.split(":", 1)[0].strip()
        for line in facts.splitlines()
        if line.strip().startswith("Q") and "| the sides contradict each other" in line
    ]


def _opening(text: str, words: int = 6) -> str:
    return " ".join(text.split()[:words])


def grounded_reply(name: str, messages: list[BaseMessage]) -> dict:
    """What a careful model would answer: one theme per question and side, named by the words
    of its first answer, with three representatives and a quote of their opening words; a
    contradiction for each question the facts say diverges, quoting two answers a side; in
    the reduce step, themes merged by side, named after the first theme merged."""
    if name == "MergedThemes":
        block = messages[-1].content.split("<themes>", 1)[1].split("</themes>", 1)[0]
        by_side: dict[str, list[tuple[str, str]]] = {}
        for line in block.strip().splitlines():
            alias, rest = line.split(" ", 1)
            title = rest.split("): ", 1)[1].split(". ", 1)[0]
            side = "frontline" if "frontline" in line else "executive"
            by_side.setdefault(side, []).append((alias, title))
        return {
            "themes": [
                {
                    "title": themes[0][1],
                    "gist": f"What the {side} says: {themes[0][1]}.",
                    "theme_ids": [alias for alias, _ in themes],
                }
                for side, themes in by_side.items()
            ]
        }
    groups = answer_groups(messages)
    themes = []
    for (_question, role), lines in groups.items():
        if len(lines) < 2:
            continue
        first = next(iter(lines))
        themes.append(
            {
                "title": f"{role}: {_opening(lines[first], 4)}",
                "gist": f"The {role} says: {_opening(lines[first], 8)}.",
                "representative_ids": list(lines)[:3],
                "quotes": [{"answer_id": first, "text": _opening(lines[first])}],
            }
        )
    contradictions = []
    for question in diverging_questions(messages):
        executive = groups.get((question, "executive"), {})
        frontline = groups.get((question, "frontline"), {})
        if executive and frontline:
            contradictions.append(
                {
                    "question_id": question,
                    "summary": f"Executives and frontline disagree on {question}.",
                    "executive_quotes": [
                        {"answer_id": e, "text": _opening(executive[e])}
                        for e in list(executive)[:2]
                    ],
                    "frontline_quotes": [
                        {"answer_id": f, "text": _opening(frontline[f])}
                        for f in list(frontline)[:2]
                    ],
                    "follow_up": f"What would it take for both sides to agree on {question}?",
                }
            )
    return {"themes": themes, "contradictions": contradictions}
