"""A team's roster is read through Teams' paged members API, never the deprecated one.

The fake connector serves `GET /v3/conversations/{id}/pagedmembers` as Teams does:
pages of at most 500, opaque continuation tokens, and 429 Too Many Requests with a
Retry-After when asked to (`FakeConnector.throttle`).
"""

from __future__ import annotations

import time

import pytest

from bot.adapters.teams import bot as teams_bot
from tests.adapters.teams.conftest import TENANT

pytestmark = pytest.mark.anyio

TEAM = "19:big-team-general@thread.tacv2"


def _members(count: int) -> list[dict]:
    return [
        {"id": f"29:m{i}", "name": f"Member {i}", "aadObjectId": f"aad-m{i}"} for i in range(count)
    ]


@pytest.fixture
def small_pages(monkeypatch):
    """Pages of 50 members (Teams' smallest), so a few pages need few members."""
    monkeypatch.setattr(teams_bot, "ROSTER_PAGE_SIZE", 50)


def _recorded_waits(teams) -> list[float]:
    waits: list[float] = []

    async def wait(seconds: float) -> None:
        waits.append(seconds)

    teams.bot.sleep = wait
    return waits


async def test_a_team_is_read_page_by_page_waiting_out_a_throttle(teams, service, small_pages):
    teams.connector.members[TEAM] = _members(120)
    teams.connector.throttle(0, 7, after=1)  # the second page is refused twice
    waits = _recorded_waits(teams)
    assert (await teams.post(teams.install_in_team(TEAM))).status == 202

    reads = teams.connector.roster_reads()
    assert all(r.path == f"/v3/conversations/{TEAM}/pagedmembers" for r in reads)
    assert [r.status for r in reads] == [200, 429, 429, 200, 200]
    assert waits == [0, 7]  # each Retry-After, honoured before asking again
    assert all(r.query["pageSize"] == "50" for r in reads)
    first, second, second_again, second_at_last, third = (r.query for r in reads)
    assert "continuationToken" not in first
    token = second["continuationToken"]
    assert (
        token and second_again["continuationToken"] == second_at_last["continuationToken"] == token
    )
    assert third["continuationToken"] not in ("", token)

    # Everyone on every page has a 1:1 chat, once, and the channel is told how many.
    created = [
        c.body["members"][0]["id"] for c in teams.connector.calls if c.path == "/v3/conversations"
    ]
    assert sorted(created) == sorted(m["id"] for m in _members(120))
    assert service.people_without_conversation("teams", TENANT) == []
    [note] = teams.connector.messages(TEAM)
    assert "120 members of this team" in note["text"]


@pytest.mark.slow
async def test_a_team_past_a_thousand_is_read_in_pages_of_500(teams, service):
    teams.connector.members[TEAM] = _members(1_050)
    started = time.perf_counter()
    assert (await teams.post(teams.install_in_team(TEAM))).status == 202
    print(f"\n1,050 members reached in {time.perf_counter() - started:.1f} s")
    reads = teams.connector.roster_reads()
    assert [r.query["pageSize"] for r in reads] == ["500"] * 3
    assert len(service.people("teams", TENANT)) == 1_050
    assert service.people_without_conversation("teams", TENANT) == []
    [note] = teams.connector.messages(TEAM)
    assert "1050 members of this team" in note["text"]


async def test_a_roster_teams_keeps_refusing_is_reported_with_what_was_reached(
    teams, service, caplog, small_pages
):
    teams.connector.members[TEAM] = _members(60)
    teams.connector.throttle(*[1] * 6, after=1)  # the first page, then only 429s
    waits = _recorded_waits(teams)
    assert (await teams.post(teams.install_in_team(TEAM))).status == 202

    reads = teams.connector.roster_reads()
    assert [r.status for r in reads] == [200] + [429] * 6  # the second page, 1 + 5 tries
    assert waits == [1] * 5
    [note] = teams.connector.messages(TEAM)
    assert "50 members get the weekly check-in" in note["text"]
    assert "open Integrity Check from the Apps menu" in note["text"]
    assert "Could not read the whole roster" in caplog.text
