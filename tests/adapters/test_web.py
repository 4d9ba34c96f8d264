"""The shared web server: `/healthz`, and the heap frozen once it has started."""

from __future__ import annotations

import gc

import httpx

from bot.adapters.web import build_server
from tests.adapters.slack.harness import AppServer


def test_the_server_answers_healthz_and_freezes_what_start_up_loaded(service):
    gc.unfreeze()
    web_app, messengers = build_server(service, {}, scheduler=False)
    assert messengers == {}
    try:
        with AppServer(web_app) as server:
            assert httpx.get(f"{server.url}/healthz").json() == {"ok": True}
            # Modules, settings and the app are out of the collector's way from now on.
            assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
