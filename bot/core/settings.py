"""Settings, read once from the environment by the entry point.

Every setting is an environment variable documented in the README's settings
table; a wrong value fails fast with a message naming the variable and a valid
value.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.core.anonymity import DEFAULT_FLOOR, Floor
from bot.core.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    db_path: Path
    secret: bytes
    min_group: int = DEFAULT_FLOOR  # the anonymity floor's size: see `floor`
    questions_per_round: int = 4
    round_days: int = 5
    questions_file: Path = Path(__file__).resolve().parents[2] / "prompts" / "questions.yaml"
    demo: bool = True
    llm: str | None = None
    #: Where the generated key is kept (None: it came from INTEGRITY_SECRET).
    key_file: Path | None = None
    #: INTEGRITY_SECRET_BESIDE_DB: the operator accepts a key inside the database's folder.
    key_beside_db: bool = False
    #: Where customers reach the survey page: the web server's public address.
    public_url: str = "http://127.0.0.1:3000"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from `env` (default: os.environ), creating the secret file if needed."""
        env = os.environ if env is None else env
        db_path = db_path_from(env.get("INTEGRITY_DB"))
        secret, key_file = _secret(env, db_path)
        kwargs: dict = {
            "db_path": db_path,
            "secret": secret,
            "key_file": key_file,
            "key_beside_db": _flag(env, "INTEGRITY_SECRET_BESIDE_DB", False),
            "min_group": Floor.parse(env.get("INTEGRITY_MIN_GROUP")).size,
            "questions_per_round": _int(env, "INTEGRITY_QUESTIONS_PER_ROUND", 4, 1, 12),
            "round_days": _int(env, "INTEGRITY_ROUND_DAYS", 5, 1, 28),
            "demo": _flag(env, "INTEGRITY_DEMO", True),
            "llm": env.get("INTEGRITY_LLM") or None,
            "public_url": _public_url(env),
        }
        if env.get("INTEGRITY_QUESTIONS"):
            kwargs["questions_file"] = Path(env["INTEGRITY_QUESTIONS"])
        return cls(**kwargs)

    def require_key_apart(self) -> None:
        """Refuse to serve a platform with the key inside the database's folder (a copy of
        the folder would carry the key that unlocks the pseudonyms), unless told to."""
        if self.key_file is None or self.key_beside_db:
            return
        folder = self.db_path.resolve().parent
        if self.key_file.resolve().is_relative_to(folder):
            raise ConfigError(
                f"The pseudonym key {self.key_file} is inside the database's folder {folder}, "
                "so a copy of that folder would carry the key with the answers. Keep the "
                "database in a folder of its own (INTEGRITY_DB), or the key elsewhere "
                "(INTEGRITY_KEY_FILE), or set INTEGRITY_SECRET; to accept it there anyway, "
                "set INTEGRITY_SECRET_BESIDE_DB=1."
            )

    def __post_init__(self) -> None:
        Floor(self.min_group)  # a floor under 3 is refused wherever settings are built

    @property
    def floor(self) -> Floor:
        """The anonymity floor every surface applies."""
        return Floor(self.min_group)


def db_path_from(value: str | None) -> Path:
    """The database file INTEGRITY_DB names (default `integrity.db`): a file, not a folder,
    in a folder that exists or can be made."""
    if value is None:
        return Path("integrity.db")
    if not value.strip():
        raise ConfigError(
            "INTEGRITY_DB is set but empty: set it to the database file, e.g. "
            "INTEGRITY_DB=integrity.db, or unset it to use integrity.db here."
        )
    path = Path(value).expanduser()
    if path.is_dir():
        raise ConfigError(
            f"INTEGRITY_DB is {value!r}, a folder: set it to a file in it, e.g. "
            f"INTEGRITY_DB={path / 'integrity.db'}."
        )
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(
                    f"INTEGRITY_DB is {value!r}, but {parent} is a file, not a folder: set "
                    "INTEGRITY_DB to a file in a folder."
                )
            break
    return path


def _public_url(env: Mapping[str, str]) -> str:
    """INTEGRITY_PUBLIC_URL, else this machine on PORT (the terminal chat's survey page)."""
    url = env.get("INTEGRITY_PUBLIC_URL", "").strip().rstrip("/")
    if not url:
        port = env.get("PORT", "3000").strip() or "3000"
        return f"http://127.0.0.1:{port}"
    if not url.startswith(("https://", "http://")):
        raise ConfigError(
            f"INTEGRITY_PUBLIC_URL is {url!r}: give the address customers open, such as "
            "https://integrity.example.com (the bot's web server)."
        )
    return url


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


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() not in {"0", "false", "no", "off"}


def _secret(env: Mapping[str, str], db_path: Path) -> tuple[bytes, Path | None]:
    """The pseudonym key and the file it is kept in: INTEGRITY_SECRET (no file), or a key
    generated on first run into `key_path`, away from the database (a key left beside the
    database by an earlier version is moved there).

    The key also seals the answers at rest (`bot.store.seal`). Losing it exposes no one,
    but the answers stored so far can no longer be opened, nor edited or deleted by their
    authors, so the file is created once, kept, and backed up apart from the database.
    """
    if env.get("INTEGRITY_SECRET"):
        if len(env["INTEGRITY_SECRET"]) < 16:
            raise ConfigError(
                "INTEGRITY_SECRET is too short: use at least 16 random characters, e.g. the output "
                "of `python -c 'import secrets; print(secrets.token_hex(32))'`."
            )
        return env["INTEGRITY_SECRET"].encode(), None
    path = key_path(db_path, env)
    try:
        _move_legacy_key(legacy_key_path(db_path), path)
        if path.exists():
            return _read_key(path), path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Two processes starting at once must not write two different keys.
        if not _create_key(path, secrets.token_hex(32)):
            return _read_key(path), path
    except OSError as error:
        raise ConfigError(_file_problem(path, error)) from error
    return _read_key(path), path


def key_path(db_path: Path, env: Mapping[str, str] | None = None) -> Path:
    """Where the generated pseudonym key of a database lives: INTEGRITY_KEY_FILE, or the
    user's config directory (`$XDG_CONFIG_HOME`, else `~/.config`), under
    `integrity-check/`, named by a hash of the database's absolute path, so a copy of the
    database's folder does not take it along."""
    env = os.environ if env is None else env
    if env.get("INTEGRITY_KEY_FILE"):
        return Path(env["INTEGRITY_KEY_FILE"]).expanduser()
    config = env.get("XDG_CONFIG_HOME") or os.environ.get("XDG_CONFIG_HOME")
    base = Path(config) if config else Path.home() / ".config"
    digest = hashlib.sha256(str(db_path.resolve()).encode()).hexdigest()[:16]
    return base / "integrity-check" / f"{db_path.name}-{digest}.secret"


def legacy_key_path(db_path: Path) -> Path:
    """Where versions before this one kept the generated key: beside the database."""
    return db_path.with_name(db_path.name + ".secret")


def _read_key(path: Path) -> bytes:
    try:
        key = path.read_text().strip()
    except OSError as error:
        raise ConfigError(
            f"Cannot read the pseudonym key {path} ({error.strerror}); make it readable by "
            "the bot's user, or set INTEGRITY_KEY_FILE to where it is."
        ) from None
    if len(key) < 16:
        raise ConfigError(
            f"The pseudonym key {path} is empty or too short; restore it from backup."
        )
    return key.encode()


def _create_key(path: Path, key: str) -> bool:
    """Write a new key file, readable by its owner only; False if one exists already.

    The key is written whole or not at all: it goes to a draft first and is linked into
    place (which fails if another process made one meanwhile), so a full disk can never
    leave an empty or half key file that a later start would refuse or, worse, use."""
    draft = path.with_name(f".{path.name}.{os.getpid()}.draft")
    try:
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            return False
    finally:
        draft.unlink(missing_ok=True)
    return True


def _file_problem(path: Path, error: OSError) -> str:
    """One line on why the key file `path` could not be read or written, and what to do."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return (
            f"Disk full: there is no room to write the pseudonym key {path}. Free some space "
            f"in {path.parent} (or set INTEGRITY_KEY_FILE elsewhere) and start again."
        )
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"Cannot write the pseudonym key {path}: {path.parent} is read-only for this "
            "user. Make it writable, or set INTEGRITY_KEY_FILE to a file in a writable folder."
        )
    return (
        f"Cannot use the pseudonym key {path} ({error.strerror or error}). "
        "Check INTEGRITY_KEY_FILE."
    )


def _move_legacy_key(legacy: Path, path: Path) -> None:
    """Move a key kept beside the database (earlier versions) to `path`, once."""
    if not legacy.exists() or legacy.resolve() == path.resolve():
        return
    old = _read_key(legacy)
    if path.exists() and _read_key(path) != old:
        raise ConfigError(
            f"There are two pseudonym keys for this database: {legacy} (beside it) and "
            f"{path}. Keep the one its answers were written with (normally the older file) "
            f"at {path} and delete the other."
        )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _create_key(path, old.decode())
    legacy.unlink()
    logger.warning("Moved the pseudonym key from %s to %s: back it up from there", legacy, path)
