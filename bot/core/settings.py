"""Settings, read once from the environment by the entry point.

Every setting is an environment variable documented in the README's settings
table; a wrong value fails fast with a message naming the variable and a valid
value.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.core.errors import ConfigError

#: The product never shows anything about fewer answers than this, whatever is configured.
ABSOLUTE_MIN_GROUP = 3
DEFAULT_MIN_GROUP = 5


@dataclass(frozen=True)
class Settings:
    db_path: Path
    secret: bytes
    min_group: int = DEFAULT_MIN_GROUP
    questions_per_round: int = 4
    round_days: int = 5
    questions_file: Path = Path(__file__).resolve().parents[2] / "prompts" / "questions.yaml"
    demo: bool = True
    llm: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from `env` (default: os.environ), creating the secret file if needed."""
        env = os.environ if env is None else env
        db_path = Path(env.get("INTEGRITY_DB", "integrity.db"))
        kwargs: dict = {
            "db_path": db_path,
            "secret": _secret(env, db_path),
            "min_group": min_group_from(env.get("INTEGRITY_MIN_GROUP")),
            "questions_per_round": _int(env, "INTEGRITY_QUESTIONS_PER_ROUND", 4, 1, 12),
            "round_days": _int(env, "INTEGRITY_ROUND_DAYS", 5, 1, 28),
            "demo": env.get("INTEGRITY_DEMO", "1").strip().lower()
            not in {"0", "false", "no", "off"},
            "llm": env.get("INTEGRITY_LLM") or None,
        }
        if env.get("INTEGRITY_QUESTIONS"):
            kwargs["questions_file"] = Path(env["INTEGRITY_QUESTIONS"])
        return cls(**kwargs)


def min_group_from(value: str | int | None) -> int:
    """The anonymity floor from a setting or flag: default 5, never below 3."""
    if value is None or value == "":
        return DEFAULT_MIN_GROUP
    try:
        floor = int(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"INTEGRITY_MIN_GROUP must be a whole number (it is {value!r}); "
            f"the default is {DEFAULT_MIN_GROUP}."
        ) from None
    if floor < ABSOLUTE_MIN_GROUP:
        raise ConfigError(
            f"The anonymity floor is {floor}, but it can never be below {ABSOLUTE_MIN_GROUP}: "
            f"smaller groups would let people guess who wrote what. "
            f"Set INTEGRITY_MIN_GROUP to {ABSOLUTE_MIN_GROUP} or more."
        )
    return floor


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            f"{name} must be a whole number from {low} to {high} (it is {raw!r})."
        ) from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be from {low} to {high} (it is {value}).")
    return value


def _secret(env: Mapping[str, str], db_path: Path) -> bytes:
    """The pseudonym key: INTEGRITY_SECRET, or a file beside the database made on first run.

    Losing the key does not expose anyone; it only means people can no longer edit
    or delete answers they gave before, so the file is created once and kept.
    """
    if env.get("INTEGRITY_SECRET"):
        if len(env["INTEGRITY_SECRET"]) < 16:
            raise ConfigError(
                "INTEGRITY_SECRET is too short: use at least 16 random characters, e.g. the output "
                "of `python -c 'import secrets; print(secrets.token_hex(32))'`."
            )
        return env["INTEGRITY_SECRET"].encode()
    path = secret_path(db_path)
    if path.exists():
        return path.read_text().strip().encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # O_EXCL: two processes starting at once must not write two different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip().encode()
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key.encode()


def secret_path(db_path: Path) -> Path:
    """Where the generated pseudonym key lives: beside the database."""
    return db_path.with_name(db_path.name + ".secret")
