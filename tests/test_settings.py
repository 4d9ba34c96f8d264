"""Settings: the anonymity floor's bounds and the pseudonym key, kept apart from the database."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.core.anonymity import Floor
from bot.core.errors import ConfigError
from bot.core.settings import Settings, key_path, legacy_key_path
from tests.conftest import ROOT


def test_floor_defaults_to_five_and_is_never_below_three():
    assert Settings.from_env(
        {"INTEGRITY_DB": ":memory:", "INTEGRITY_SECRET": "s" * 16}
    ).floor == Floor(5)
    assert Floor.parse(None) == Floor(5) and Floor.parse("3") == Floor(3)
    with pytest.raises(ConfigError, match="never below 3.*INTEGRITY_MIN_GROUP"):
        Floor.parse("2")
    with pytest.raises(ConfigError, match="whole number"):
        Floor.parse("five")
    with pytest.raises(ConfigError, match="never below 3"):
        Settings(db_path=Path("x.db"), secret=b"s" * 16, min_group=2)


def test_the_key_is_generated_once_in_the_config_directory_not_beside_the_database(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    env = {"INTEGRITY_DB": str(tmp_path / "data" / "i.db")}
    first = Settings.from_env(env)
    path = key_path(first.db_path)
    assert first.key_file == path and path.is_relative_to(tmp_path / "config" / "integrity-check")
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not legacy_key_path(first.db_path).exists()
    assert len(first.secret) == 64
    assert Settings.from_env(env).secret == first.secret
    # Another database has another key.
    assert Settings.from_env({"INTEGRITY_DB": str(tmp_path / "j.db")}).secret != first.secret
    first.require_key_apart()  # apart: a platform may start


def test_a_key_beside_the_database_is_moved_to_the_config_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    db = tmp_path / "data" / "i.db"
    db.parent.mkdir()
    legacy_key_path(db).write_text("k" * 64 + "\n")
    settings = Settings.from_env({"INTEGRITY_DB": str(db)})
    assert settings.secret == b"k" * 64  # the answers' pseudonyms still match
    assert not legacy_key_path(db).exists()
    assert key_path(db).read_text().strip() == "k" * 64
    assert stat.S_IMODE(key_path(db).stat().st_mode) == 0o600
    # Two different keys for one database: refuse, and say which to keep.
    legacy_key_path(db).write_text("z" * 64)
    with pytest.raises(ConfigError, match="two pseudonym keys"):
        Settings.from_env({"INTEGRITY_DB": str(db)})


def test_a_platform_refuses_a_key_inside_the_database_folder_unless_told(tmp_path):
    env = {
        "INTEGRITY_DB": str(tmp_path / "i.db"),
        "INTEGRITY_KEY_FILE": str(tmp_path / "keys" / "i.secret"),
    }
    settings = Settings.from_env(env)
    assert settings.key_file == tmp_path / "keys" / "i.secret"
    with pytest.raises(ConfigError, match="INTEGRITY_SECRET_BESIDE_DB=1"):
        settings.require_key_apart()
    Settings.from_env({**env, "INTEGRITY_SECRET_BESIDE_DB": "1"}).require_key_apart()
    # A key from the environment is in no file at all.
    Settings.from_env({**env, "INTEGRITY_SECRET": "x" * 32}).require_key_apart()


def test_secret_from_the_environment_wins_and_must_be_long_enough(tmp_path):
    env = {"INTEGRITY_DB": str(tmp_path / "i.db"), "INTEGRITY_SECRET": "x" * 32}
    assert Settings.from_env(env).secret == b"x" * 32
    assert not legacy_key_path(tmp_path / "i.db").exists()
    assert not key_path(tmp_path / "i.db").exists()
    with pytest.raises(ConfigError, match="too short"):
        Settings.from_env({**env, "INTEGRITY_SECRET": "short"})


@pytest.mark.parametrize(
    "name,value", [("INTEGRITY_QUESTIONS_PER_ROUND", "0"), ("INTEGRITY_ROUND_DAYS", "many")]
)
def test_bad_numbers_name_the_setting(tmp_path, name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({"INTEGRITY_DB": str(tmp_path / "i.db"), name: value})


def test_run_bot_refuses_to_serve_slack_with_the_key_in_the_database_folder(tmp_path):
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("INTEGRITY_", "SLACK_", "TEAMS_"))
    }
    env.update(
        INTEGRITY_DB=str(tmp_path / "i.db"),
        INTEGRITY_KEY_FILE=str(tmp_path / "i.secret"),
        SLACK_BOT_TOKEN="xoxb-test",
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "run_bot.py")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert result.returncode != 0
    assert "INTEGRITY_SECRET_BESIDE_DB=1" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
