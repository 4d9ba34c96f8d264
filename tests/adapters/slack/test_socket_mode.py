"""Socket Mode: the app connects out to Slack's WebSocket (here the fake's) and gets the
same requests as envelopes, which it acknowledges on the socket."""

from __future__ import annotations

import json
import time

from tests.adapters.slack.conftest import EXECUTIVES, FRONTLINE, TEAM


def test_socket_mode_acks_envelopes_and_answers_the_command(make_rig):
    rig = make_rig(app_token="xapp-test", signing_secret="")
    rig.fake.wait_for_socket()
    assert rig.fake.calls_to("apps.connections.open")
    # In Socket Mode there is no HTTP endpoint for Slack.
    assert rig.send.command(FRONTLINE[0], "help").status_code == 404

    payload = {
        "team_id": TEAM,
        "channel_id": "C0GENERAL",
        "user_id": FRONTLINE[0],
        "user_name": "front",
        "command": "/integrity",
        "text": "status",
        "response_url": rig.fake.response_url(),
        "trigger_id": "t-1",
    }
    rig.fake.socket_send(
        {
            "envelope_id": "env-1",
            "type": "slash_commands",
            "accepts_response_payload": True,
            "payload": payload,
        }
    )
    rig.fake.wait_for(lambda: any(a.get("envelope_id") == "env-1" for a in rig.fake.socket_acks))
    rig.fake.wait_for(lambda: "No round is open" in json.dumps(rig.fake.responses))

    event = {
        "team_id": TEAM,
        "type": "event_callback",
        "event_id": "Ev0SOCKET",
        "event": {"type": "app_home_opened", "user": EXECUTIVES[0], "tab": "home"},
    }
    for attempt in range(2):  # redelivered: still published once
        rig.fake.socket_send(
            {"envelope_id": f"env-ev-{attempt}", "type": "events_api", "payload": event}
        )
    rig.fake.wait_for(lambda: len(rig.fake.socket_acks) >= 3)
    rig.fake.wait_for(lambda: EXECUTIVES[0] in rig.fake.home_views)
    time.sleep(0.3)  # time for a duplicate to show up, if there were one
    assert len(rig.fake.calls_to("views.publish")) == 1
