"""The LLM prompts in `prompts/analysis.yaml`, loaded as LangChain chat templates.

Each step of the LLM engine (`map`, `reduce`) is a system and a human message with
`{variables}`. `chat_prompt(step, variables)` checks that the step's templates use
exactly the variables the engine will fill in, so a misspelt or missing variable
fails when the engine starts, with the file and step named, and never halfway
through an executive's summary.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from langchain_core.prompts import ChatPromptTemplate

from bot.core.errors import ConfigError

PROMPTS = Path(__file__).resolve().parents[2] / "prompts" / "analysis.yaml"


@cache
def _steps(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"Cannot read the prompt file {path}: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"The prompt file {path} must map step names to messages.")
    return data


def chat_prompt(
    step: str, variables: frozenset[str] | set[str], path: Path = PROMPTS
) -> ChatPromptTemplate:
    """The `step` prompt of the file, checked to use exactly `variables`."""
    entry = _steps(path).get(step)
    if not isinstance(entry, dict) or not {"system", "human"} <= entry.keys():
        raise ConfigError(f"{path}: the step {step!r} needs a `system` and a `human` message.")
    try:
        prompt = ChatPromptTemplate.from_messages(
            [("system", entry["system"]), ("human", entry["human"])]
        )
    except ValueError as error:  # an unbalanced brace
        raise ConfigError(f"{path}, step {step!r}: {error}") from None
    used = set(prompt.input_variables)
    if used != set(variables):
        missing, unknown = sorted(set(variables) - used), sorted(used - set(variables))
        raise ConfigError(
            f"{path}, step {step!r}: the templates must use exactly "
            f"{{{', '.join(sorted(variables))}}}"
            + (f"; missing {missing}" if missing else "")
            + (f"; unknown {unknown} (write a literal brace as {{{{ or }}}})" if unknown else "")
        )
    return prompt
