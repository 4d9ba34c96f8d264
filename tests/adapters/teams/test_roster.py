"""A team's roster is read through Teams' paged members API, never the deprecated one.

The fake connector serves `GET /v3/conversations/{id}/pagedmembers` as Teams does:
pages of at most 500, opaque continuation tokens, and 429 Too Many Requests with a
Retry-After when asked to (`FakeConnector.throttle`).
"""

from __future__ import annotations

import time

import pytest

from tests.adapters.teams.conftest import BOT_ID, TENANT

pytestmark = pytest.mark.anyio

TEAM = "19:big-team-general@thread.tacv2"


def _install_in(teams, team: str) -> dict:
    return teams.activity(
        "conversationUpdate",
        user="installer",
        conversation=team,
        conversation_type="channel",
        membersAdded=[{"id": BOT_ID}],
        channelData={"team": {"id": team}, "tenant": {"id": TENANT}},
    )


def _members(count: int) -> list[dict]:
    return [
        {"id": f"29:m{i}", "name": f"Member {i}", "aadObjectId": f"aad-m{i}"} for i in range(count)
    ]


async def test_a_big_team_is_read_page_by_page_waiting_out_a_throttle(teams, service):
    teams.connector.members[TEAM] = _members(1_050)
    teams.connector.throttle(0, 7)  # the first read, then the one after it, are refused
    waits: list[float] = []

    async def wait(seconds: float) -> None:
        waits.append(seconds)

    teams.bot.sleep = wait
    started = time.perf_counter()
    assert (await teams.post(_install_in(teams, TEAM))).status == 202
    print(f"\n1,050 members reached in {time.perf_counter() - started:.1f} s")

    reads = teams.connector.roster_reads()
    assert all(r.path == f"/v3/conversations/{TEAM}/pagedmembers" for r in reads)
    assert [r.status for r in reads] == [429, 429, 200, 200, 200]
    assert waits == [0, 7]  # each Retry-After, honoured before asking again
    queries = [r.query for r in reads]
    assert all(q["pageSize"] == "500" for q in queries)
    first, second, third = queries[2:]
    assert "continuationToken" not in first
    assert second["continuationToken"] and third["continuationToken"]
    assert second["continuationToken"] != third["continuationToken"]

    # Everyone on every page has a 1:1 chat, once, and the channel is told how many.
    created = [
        c.body["members"][0]["id"] for c in teams.connector.calls if c.path == "/v3/conversations"
    ]
    assert sorted(created) == sorted(m["id"] for m in _members(1_050))
    assert service.people_without_conversation("teams", TENANT) == []
    [note] = teams.connector.messages(TEAM)
    assert "1050 member(s) of this team" in note["text"]


async def test_a_roster_teams_keeps_refusing_is_reported_with_what_was_reached(
    teams, service, caplog
):
    teams.connector.members[TEAM] = _members(600)
    teams.connector.throttle(*[1] * 6, after=1)  # the first page, then only 429s
    waits: list[float] = []

    async def wait(seconds: float) -> None:
        waits.append(seconds)

    teams.bot.sleep = wait
    assert (await teams.post(_install_in(teams, TEAM))).status == 202

    reads = teams.connector.roster_reads()
    assert reads[0].status == 200 and {r.status for r in reads[1:]} == {429}
    assert len(reads) == 1 + 6  # the second page, asked for 1 + 5 times
    assert waits == [1] * 5
    [note] = teams.connector.messages(TEAM)
    assert "500 member(s) get the weekly check-in" in note["text"]
    assert "open Integrity Check from the Apps menu" in note["text"]
    assert "Could not read the whole roster" in caplog.text
