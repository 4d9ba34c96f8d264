"""The Teams app package: `teams/manifest.json` and its icons, zipped for upload.

    python run_bot.py teams-package [--out FILE]

The manifest's `${{TEAMS_CLIENT_ID}}` placeholders (the app id and the bot id)
are filled from TEAMS_CLIENT_ID, so one manifest serves every installation. The
zip is what Teams admin center (Manage apps → Upload) or Teams (Apps → Manage
your apps → Upload an app) takes.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path

from bot.core.errors import ConfigError

TEAMS_DIR = Path(__file__).resolve().parents[3] / "teams"
FILES = ("manifest.json", "color.png", "outline.png")
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def manifest(env: Mapping[str, str], source: Path = TEAMS_DIR) -> dict:
    """The manifest with the bot's id filled in."""
    client_id = env.get("TEAMS_CLIENT_ID", "").strip()
    if not GUID.match(client_id):
        raise ConfigError(
            "Set TEAMS_CLIENT_ID to the Azure Bot's Microsoft App ID (a GUID like "
            "00000000-0000-0000-0000-000000000000) to build the Teams package."
        )
    text = (source / "manifest.json").read_text()
    return json.loads(text.replace("${{TEAMS_CLIENT_ID}}", client_id))


def build(env: Mapping[str, str], out: Path, source: Path = TEAMS_DIR) -> Path:
    """Write the upload zip: manifest.json and the two icons at the top level."""
    filled = manifest(env, source)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(filled, indent=2))
        for name in FILES[1:]:
            package.write(source / name, name)
    return out
