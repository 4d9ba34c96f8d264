"""Shared fixtures: a fresh database file per test, settings that never touch the
developer's own files, and the core service wired to them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core import anonymity
from bot.core.commands import Commands
from bot.core.domain import Person
from bot.core.service import IntegrityCheck
from bot.core.settings import Settings
from bot.store import Store

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _keys_in_a_temporary_config_dir(tmp_path_factory, monkeypatch) -> None:
    """A generated pseudonym key goes to the user's config directory: never the developer's
    own in tests (subprocesses inherit this too)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(db_path=tmp_path / "integrity.db", secret=b"test-secret-0123456789abcdef")


@pytest.fixture
def store(settings: Settings):
    store = Store(settings.db_path)
    store.use_seal_key(anonymity.seal_key(settings.secret))  # as the service hands it over
    yield store
    store.close()


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def service(store: Store, settings: Settings, clock: Clock) -> IntegrityCheck:
    return IntegrityCheck(store, settings, clock=clock)


@pytest.fixture
def commands(service: IntegrityCheck) -> Commands:
    return Commands(service)


def make_people(
    service: IntegrityCheck, role: str, count: int, team: str | None = None, prefix: str = ""
) -> list[Person]:
    """`count` people of one role (and team) in workspace W of platform 'test'."""
    people = []
    for i in range(count):
        user_id = f"{prefix or role[:4]}{team or ''}{i}"
        person = service.store.add_person("test", "W", user_id, f"{role} {i}", role, team=team)
        people.append(person)
    return people


@pytest.fixture
def admin(service: IntegrityCheck) -> Person:
    return service.store.add_person(
        "test", "W", "ADMIN", "Ada Admin", "executive", is_admin=True, team="Leadership"
    )
