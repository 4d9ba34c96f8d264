"""Teams settings, read from the environment: the Azure bot's credentials and role lists.

`TEAMS_CLIENT_ID`, `TEAMS_CLIENT_SECRET` and `TEAMS_TENANT_ID` are the Azure Bot's
app registration (single tenant). With all three set, every request to
`/api/messages` must carry a Bot Framework JWT for that app. With none set and
`INTEGRITY_TEAMS=1`, the endpoint runs anonymously for local testing (the
Microsoft 365 Agents Playground), with a loud warning. Half a configuration is
an error, never a silent fall back to anonymous.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from microsoft_agents.hosting.core import AgentAuthConfiguration

from bot.core.errors import ConfigError

logger = logging.getLogger(__name__)

CREDENTIALS = ("TEAMS_CLIENT_ID", "TEAMS_CLIENT_SECRET", "TEAMS_TENANT_ID")
TRUE_WORDS = {"1", "true", "yes", "on"}


def teams_configured(env: Mapping[str, str] | None = None) -> bool:
    """True when Teams should be served: credentials are set, or INTEGRITY_TEAMS=1 (local)."""
    env = os.environ if env is None else env
    return bool(env.get("TEAMS_CLIENT_ID")) or (
        env.get("INTEGRITY_TEAMS", "").strip().lower() in TRUE_WORDS
    )


def _ids(raw: str | None) -> frozenset[str]:
    return frozenset(part.strip().lower() for part in (raw or "").split(",") if part.strip())


@dataclass(frozen=True)
class TeamsSettings:
    client_id: str = ""
    client_secret: str = ""
    tenant_id: str = ""
    #: Microsoft Entra object ids (or Teams user ids) made admins / executives when first met.
    admins: frozenset[str] = field(default_factory=frozenset)
    executives: frozenset[str] = field(default_factory=frozenset)

    @property
    def anonymous(self) -> bool:
        """No credentials: accept unsigned requests (local testing only)."""
        return not self.client_id

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TeamsSettings:
        env = os.environ if env is None else env
        values = {name: env.get(name, "").strip() for name in CREDENTIALS}
        missing = [name for name, value in values.items() if not value]
        if values["TEAMS_CLIENT_ID"] and missing:
            raise ConfigError(
                f"Teams is half configured: set {' and '.join(missing)} too (from the Azure Bot's "
                "app registration), or unset TEAMS_CLIENT_ID to run anonymously for local tests."
            )
        if not values["TEAMS_CLIENT_ID"] and len(missing) < len(CREDENTIALS):
            raise ConfigError(
                "TEAMS_CLIENT_SECRET or TEAMS_TENANT_ID is set but TEAMS_CLIENT_ID is not: set "
                "the Azure Bot's app id in TEAMS_CLIENT_ID."
            )
        return cls(
            client_id=values["TEAMS_CLIENT_ID"],
            client_secret=values["TEAMS_CLIENT_SECRET"],
            tenant_id=values["TEAMS_TENANT_ID"],
            admins=_ids(env.get("INTEGRITY_TEAMS_ADMINS")),
            executives=_ids(env.get("INTEGRITY_TEAMS_EXECUTIVES")),
        )

    def auth_configuration(self) -> AgentAuthConfiguration:
        """The SDK's configuration for validating incoming tokens and getting outgoing ones."""
        if self.anonymous:
            logger.warning(
                "TEAMS IS RUNNING WITHOUT AUTHENTICATION: /api/messages accepts unsigned requests "
                "from anyone. This is for local testing only; set TEAMS_CLIENT_ID, "
                "TEAMS_CLIENT_SECRET and TEAMS_TENANT_ID before exposing the bot."
            )
            return AgentAuthConfiguration(anonymous_allowed=True)
        return AgentAuthConfiguration(
            client_id=self.client_id,
            client_secret=self.client_secret,
            tenant_id=self.tenant_id,
            anonymous_allowed=False,
        )
