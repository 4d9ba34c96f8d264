"""Settings: the anonymity floor's bounds and the pseudonym key kept beside the database."""

from __future__ import annotations

import stat

import pytest

from bot.core.errors import ConfigError
from bot.core.settings import Settings, min_group_from, secret_path


def test_floor_defaults_to_five_and_is_never_below_three():
    assert min_group_from(None) == 5
    assert min_group_from("3") == 3
    with pytest.raises(ConfigError, match="never be below 3"):
        min_group_from("2")
    with pytest.raises(ConfigError, match="whole number"):
        min_group_from("five")


def test_secret_is_generated_once_beside_the_database(tmp_path):
    env = {"INTEGRITY_DB": str(tmp_path / "data" / "i.db")}
    first = Settings.from_env(env)
    path = secret_path(first.db_path)
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.secret) == 64
    assert Settings.from_env(env).secret == first.secret


def test_secret_from_the_environment_wins_and_must_be_long_enough(tmp_path):
    env = {"INTEGRITY_DB": str(tmp_path / "i.db"), "INTEGRITY_SECRET": "x" * 32}
    assert Settings.from_env(env).secret == b"x" * 32
    assert not secret_path(tmp_path / "i.db").exists()
    with pytest.raises(ConfigError, match="too short"):
        Settings.from_env({**env, "INTEGRITY_SECRET": "short"})


@pytest.mark.parametrize(
    "name,value", [("INTEGRITY_QUESTIONS_PER_ROUND", "0"), ("INTEGRITY_ROUND_DAYS", "many")]
)
def test_bad_numbers_name_the_setting(tmp_path, name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({"INTEGRITY_DB": str(tmp_path / "i.db"), name: value})
