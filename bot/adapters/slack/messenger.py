"""Slack's outbound side: who is asked, posting check-ins, reminders, summaries and files.

`SlackMessenger` is the scheduler's Slack `Messenger` and the Bolt app's way to
post anything that is not an immediate reply. It runs on a synchronous
`slack_sdk.WebClient` in worker threads (the scheduler's, or `asyncio.to_thread`
from the app), so waiting out a rate limit never blocks the event loop that
acknowledges Slack's requests:

- every post first takes a token from a shared `Pacer` (the workspace budget,
  `SLACK_POSTS_PER_SECOND`), and a 429 is waited out for its `Retry-After` by
  slack_sdk's `RateLimitErrorRetryHandler`;
- a check-in carries message metadata naming its round, so after a crash
  `find_sent` can tell whether it went out before the claim was recorded;
- channel posts are claimed in the store before posting, like deliveries;
- who is asked is read from Slack at most every `PEOPLE_MAX_AGE` and served from memory in
  between, so a large workspace is not listed at every tick of the scheduler.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from bot.adapters.slack import blocks as kit
from bot.adapters.slack.config import SlackSettings
from bot.core.domain import Person, Question, Round, direct_user
from bot.core.replies import Reply, counted
from bot.core.service import Grant, IntegrityCheck

logger = logging.getLogger(__name__)

PLATFORM = "slack"
#: The bot user's name in Slack (`features.bot_user.display_name` in slack/manifest.yml).
BOT_NAME = "integrity-check"
#: What Slack answers a post to a channel the app was not invited to (it asks for no
#: `chat:write.public`: it must be in the channel anyway to read the answers in threads).
NOT_INVITED = {"not_in_channel", "channel_not_found"}
#: A channel that refused is tried again after this long, not with every check-in sent.
NOT_INVITED_RETRY = timedelta(minutes=5)
#: users.list and conversations.members page size (Slack recommends 200 at most).
PAGE = 200
#: How long a listing of the people to ask is served before Slack is asked again. users.list
#: is a Tier 2 method (about 20 calls a minute per app and workspace) and a listing costs one
#: call per PAGE people: 50 calls at 10,000 people, two and a half minutes of that budget.
#: Listed at every tick (once a minute) that workspace would be rate-limited every minute;
#: every 15 minutes it takes about a sixth of the budget (a quarter at 15,000 people).
#: Someone who joins just before their slot is asked after the next refresh, within these
#: 15 minutes, well inside the scheduler's catch-up window (12 hours by default).
PEOPLE_MAX_AGE = timedelta(minutes=15)
#: After a failed refresh the last good listing is served this long before Slack is asked
#: again: a refresh that failed late has spent most of its budget already, and the next tick,
#: a minute later, would most likely fail the same way.
PEOPLE_RETRY = timedelta(minutes=5)


class Pacer:
    """A token bucket shared by every thread that posts: at most `rate` posts a second,
    evenly spaced, so fan-out stays under the workspace's budget instead of running into
    429s, each of which costs a whole `Retry-After` second. `burst` (by default a tenth
    of a second's posts, at least 1) is how much of a stall in the sender (a slow commit,
    a busy CPU) is made up at once rather than lost for good (a few percent of a fan-out
    at 100 posts a second, `benchmarks/fanout.py`)."""

    def __init__(self, rate: float, burst: int | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1, round(rate / 10))
        self._tokens = float(self.burst)
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def wait(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                pause = (1 - self._tokens) / self.rate
            time.sleep(pause)


def web_client(settings: SlackSettings, *, retries: int = 8) -> WebClient:
    """A WebClient for background work: waits out 429s and retries dropped connections."""
    return WebClient(
        token=settings.bot_token,
        base_url=settings.api_base_url,
        timeout=30,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=retries),
        ],
    )


@dataclass
class _Listing:
    """The humans to ask as Slack last listed them (user objects, already filtered)."""

    users: list[dict]
    #: When the listing was read (the start of the refresh that read it).
    read_at: datetime
    #: When Slack was last asked, successfully or not, and when it is asked next.
    tried_at: datetime
    next_read: datetime


def message_ref(channel: str, ts: str) -> str:
    return f"{channel}:{ts}"


def parse_ref(ref: str) -> tuple[str, str]:
    channel, _, ts = ref.partition(":")
    return channel, ts


class SlackMessenger:
    """Posts to one Slack workspace on behalf of the core and the scheduler."""

    platform = PLATFORM

    def __init__(
        self,
        service: IntegrityCheck,
        settings: SlackSettings,
        client: WebClient | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.service = service
        self.settings = settings
        self.client = client or web_client(settings)
        self.pacer = pacer or Pacer(settings.posts_per_second)
        self._team_id: str | None = None
        self._group_members: dict[str, frozenset[str]] = {}
        self._groups_read_at: datetime | None = None
        self._groups_refreshing = threading.Lock()
        self._dm_channels: dict[str, str] = {}
        # Channels that refused a round's post because the app is not in them, and when.
        self._not_invited: dict[str, datetime] = {}
        # Per workspace: the last good listing and how many refreshes have succeeded. The
        # lock makes one thread refresh while the others (the scheduler, `/integrity ask`'s
        # delivery) wait for its result instead of listing the workspace again themselves.
        self._listings: dict[str, _Listing] = {}
        self._reads: dict[str, int] = {}
        self._people_lock = threading.Lock()

    @property
    def team_id(self) -> str:
        """The workspace this bot token belongs to (auth.test, asked once)."""
        if self._team_id is None:
            self._team_id = self.client.auth_test()["team_id"]
        return self._team_id

    # -- people -------------------------------------------------------------------

    def people(self, workspace: str, *, refresh: bool = False) -> list[Person]:
        """Everyone to ask: active humans of the workspace, or only the members of
        `INTEGRITY_CHANNELS`, with time zones from the same listing.

        The listing (and the user groups' members) is read from Slack when it is
        `PEOPLE_MAX_AGE` old, or at once with `refresh`; in between it is served from memory,
        as the scheduler asks at every tick. A refresh that fails serves the last good
        listing (a warning is logged) and is tried again after `PEOPLE_RETRY`; with no
        listing yet, the error is raised. Teams and roles come from the store on every call.
        """
        # Ages are measured on the core's clock, the one the scheduler's slots use (and tests
        # move). A clock that went back makes the listing stale: it is read again, no harm.
        reads = self._reads.get(workspace, 0)
        with self._people_lock:
            listing = self._listings.get(workspace)
            now = self.service.now()
            if refresh:
                # A refresh that finished while this call waited for the lock will do.
                stale = listing is None or self._reads.get(workspace, 0) == reads
            else:
                stale = listing is None or not listing.tried_at <= now < listing.next_read
            if stale:
                listing = self._read_listing(workspace, listing, now)
            # Only new or changed people are written, so a large workspace costs one read,
            # not a transaction per person, before the first send.
            known = {p.user_id: p for p in self.service.people(PLATFORM, workspace)}
            return [
                self.meet_user(user, workspace, known.get(user["id"])) for user in listing.users
            ]

    def _read_listing(self, workspace: str, last: _Listing | None, now: datetime) -> _Listing:
        """Read the people to ask from Slack, or keep `last` if Slack cannot be read."""
        try:
            users = self._list_humans()
        except Exception as error:  # a 5xx, a 429 the client gave up on, a dropped connection
            if last is None:
                raise
            last.tried_at, last.next_read = now, now + PEOPLE_RETRY
            reason = error.response.get("error") if isinstance(error, SlackApiError) else error
            logger.warning(
                "Could not refresh the people of %s from Slack (%s); asking the %d listed at "
                "%s until the next try at %s",
                workspace,
                reason,
                len(last.users),
                last.read_at.isoformat(timespec="seconds"),
                last.next_read.isoformat(timespec="seconds"),
            )
            return last
        listing = _Listing(users, read_at=now, tried_at=now, next_read=now + PEOPLE_MAX_AGE)
        self._listings[workspace] = listing
        self._reads[workspace] = self._reads.get(workspace, 0) + 1
        logger.debug("Listed %d people of %s from Slack", len(users), workspace)
        return listing

    def _list_humans(self) -> list[dict]:
        """The user groups' members, then the humans to ask (user objects), from Slack."""
        self._refresh_groups()
        members = {u["id"]: u for u in self._pages("users_list", "members") if is_human(u)}
        if self.settings.channels:
            wanted: set[str] = set()
            for channel in self.settings.channels:
                wanted.update(self._pages("conversations_members", "members", channel=channel))
            members = {uid: u for uid, u in members.items() if uid in wanted}
        return list(members.values())

    def _pages(self, method: str, key: str, **args) -> Iterator:
        cursor = None
        while True:
            response = getattr(self.client, method)(limit=PAGE, cursor=cursor, **args)
            yield from response.get(key, [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return

    def _refresh_groups_in_background(self) -> None:
        if not self._groups_refreshing.acquire(blocking=False):
            return  # one refresh at a time

        def run() -> None:
            try:
                self._refresh_groups()
            except Exception:
                logger.exception("Could not read the Slack user groups")
            finally:
                self._groups_refreshing.release()

        threading.Thread(target=run, name="slack-user-groups", daemon=True).start()

    def _refresh_groups(self) -> None:
        """Read the configured user groups; a group that cannot be read keeps its last members
        (and is read again with the next refresh of `people`'s listing, not on every event)."""
        self._groups_read_at = self.service.now()
        for group in (self.settings.executives_group, self.settings.admins_group):
            if group:
                try:
                    users = self.client.usergroups_users_list(usergroup=group)["users"]
                except SlackApiError as error:
                    logger.error(
                        "Could not read Slack user group %s (%s); check INTEGRITY_*_GROUP and "
                        "the usergroups:read scope",
                        group,
                        error.response.get("error"),
                    )
                    continue
                self._group_members[group] = frozenset(users)

    def meet_user(
        self, user: dict, workspace: str | None = None, known: Person | None = None
    ) -> Person:
        """The person behind a Slack user object (users.list / users.info), roles applied;
        `known` is what the store already holds for them, written again only if it changed."""
        profile = user.get("profile") or {}
        name = (
            profile.get("display_name")
            or profile.get("real_name")
            or user.get("real_name")
            or user.get("name")
            or user["id"]
        )
        tz = user.get("tz") or None
        grant = self.grant_for(user["id"])
        unchanged = known is not None and known.display_name == name and (not tz or tz == known.tz)
        granted = known is not None and (
            grant is None or known.is_admin or (grant == "executive" and known.is_executive)
        )
        if unchanged and granted:
            return known  # nothing to write: the listing's people cost no transaction
        person, _ = self.service.meet(
            PLATFORM, workspace or self.team_id, user["id"], name, tz=tz, grant=grant
        )
        return person

    def grant_for(self, user_id: str) -> Grant | None:
        """What the settings and the user groups make this person: "admin", "executive" or
        nothing. The groups are read with the people listing (`people`), never here: this
        runs before an ack and must not call Slack: groups not read for `PEOPLE_MAX_AGE`
        are read again in the background, for the events after this one."""
        if self.settings.admins_group or self.settings.executives_group:
            read_at = self._groups_read_at
            if read_at is None or self.service.now() - read_at >= PEOPLE_MAX_AGE:
                self._refresh_groups_in_background()
        admins = self.settings.admins | self._group_members.get(self.settings.admins_group, set())
        if user_id in admins:
            return "admin"
        executives = self.settings.executives | self._group_members.get(
            self.settings.executives_group, set()
        )
        return "executive" if user_id in executives else None

    # -- posting ---------------------------------------------------------------------

    def post(self, channel: str, blocks: list[dict], **extra) -> dict:
        """chat.postMessage, paced; returns Slack's response data."""
        self.pacer.wait()
        text = extra.pop("text", None) or kit.fallback_text(blocks)
        return self.client.chat_postMessage(
            channel=channel, blocks=blocks, text=text, unfurl_links=False, **extra
        ).data

    def dm_channel(self, user_id: str) -> str:
        """The DM channel with a person (conversations.open, remembered)."""
        if user_id not in self._dm_channels:
            self._dm_channels[user_id] = self.client.conversations_open(users=user_id)["channel"][
                "id"
            ]
        return self._dm_channels[user_id]

    def send_round(self, person: Person, round_: Round, questions: list[Question]) -> str:
        """Post the check-in to the person's DM; the channels' posts go out on the first send."""
        self.post_round_to_channels(round_)
        answers = self.service.my_answers(person, round_)
        blocks = kit.checkin_blocks(
            round_, questions, answers, floor=self.service.settings.min_group
        )
        posted = self.post(
            person.user_id,
            blocks,
            text=f"Integrity check, round {round_.number}: {counted(len(questions), 'question')}",
            metadata=kit.checkin_metadata(round_),
        )
        return message_ref(posted["channel"], posted["ts"])

    def find_sent(self, person: Person, round_: Round) -> str | None:
        """The check-in of this round in the person's DM, if it went out (crash recovery)."""
        channel = self.dm_channel(person.user_id)
        oldest = f"{round_.opened_at.timestamp() - 60:.6f}"
        for message in self._pages(
            "conversations_history",
            "messages",
            channel=channel,
            oldest=oldest,
            include_all_metadata=True,
        ):
            metadata = message.get("metadata") or {}
            if (
                metadata.get("event_type") == kit.CHECKIN_EVENT
                and (metadata.get("event_payload") or {}).get("round_id") == round_.id
            ):
                return message_ref(channel, message["ts"])
        return None

    def remind(self, person: Person, round_: Round, unanswered: list[Question]) -> None:
        if not unanswered:
            return
        answers = self.service.my_answers(person, round_)
        self.post(
            person.user_id,
            kit.reminder_blocks(round_, unanswered, answers),
            text=f"Reminder: round {round_.number} has "
            f"{counted(len(unanswered), 'question')} for you",
        )

    def checkin_update(self, person: Person, round_: Round) -> dict:
        """The arguments of `chat.update` that redraw a person's check-in with what they said."""
        questions = self.service.questions_for(person, round_)
        answers = self.service.my_answers(person, round_)
        return {
            "blocks": kit.checkin_blocks(
                round_, questions, answers, floor=self.service.settings.min_group
            ),
            "text": f"Integrity check, round {round_.number}",
            "metadata": kit.checkin_metadata(round_),
        }

    def post_round_to_channels(self, round_: Round) -> None:
        """Post the round in each `INTEGRITY_CHECKIN_CHANNELS` channel, once per channel."""
        if not self.settings.checkin_channels:
            return
        questions = self.service.round_questions(round_)
        now = self.service.now()
        for channel in self.settings.checkin_channels:
            refused = self._not_invited.get(channel)
            if refused is not None and now - refused < NOT_INVITED_RETRY:
                continue  # not with every check-in of the fan-out: once in a while
            if not self.service.claim_channel_post(PLATFORM, self.team_id, channel, round_):
                continue
            ref = None
            try:
                posted = self.post(
                    channel,
                    kit.channel_post_blocks(round_, questions),
                    text=f"Integrity check, round {round_.number}",
                    metadata=kit.checkin_metadata(round_),
                )
                ref = message_ref(posted["channel"], posted["ts"])
                self._not_invited.pop(channel, None)
            except SlackApiError as error:
                if error.response.get("error") in NOT_INVITED:
                    self._not_invited[channel] = now
                    logger.error(
                        "Could not post round %s to channel %s: the app is not in it. Invite "
                        "it there (in the channel: `/invite @%s`), or take the channel out of "
                        "INTEGRITY_CHECKIN_CHANNELS. The post is tried again with the check-ins "
                        "sent after %d minutes.",
                        round_.number,
                        channel,
                        BOT_NAME,
                        NOT_INVITED_RETRY.total_seconds() // 60,
                    )
                else:
                    logger.exception(
                        "Could not post round %s to channel %s", round_.number, channel
                    )
            finally:
                self.service.complete_channel_post(PLATFORM, self.team_id, channel, round_, ref)

    def send_reply(self, channel: str, reply: Reply, *, thread_ts: str | None = None) -> str | None:
        """A core reply as one or more messages, then its files, in a channel or DM; returns
        the first message's ts. What lies behind the reply's fold ("more": a summary's detail)
        goes in that message's thread, so the first screen reads on its own."""
        if thread_ts is None:
            first, more = kit.reply_parts(reply, kit.MORE_IN_THREAD)
        else:  # already in a thread: all of it there, in order
            first, more = kit.reply_messages(reply), []
        parent = None
        for blocks in first:
            posted = self.post(channel, blocks, thread_ts=thread_ts)
            parent = parent or posted.get("ts")
        for blocks in more:
            self.post(channel, blocks, thread_ts=parent)
        for file in reply.files:
            self.upload(channel, file, thread_ts=thread_ts)
        return parent

    def upload(self, channel: str, file, *, thread_ts: str | None = None) -> None:
        self.pacer.wait()
        self.client.files_upload_v2(
            channel=channel,
            content=file.content,
            filename=file.name,
            title=file.title or file.name,
            thread_ts=thread_ts,
        )

    def summary_recipients(self, workspace: str, to: str) -> list[str]:
        """Who a summary for `to` reaches, one address each for `post_summary`, so the
        scheduler can record (and retry) each recipient on its own: `@USER` for every
        executive's DM, or the channel."""
        if to and to != "executives":
            return [to.lstrip("#")]
        return [p.recipient for p in self.service.people(PLATFORM, workspace) if p.is_executive]

    def post_summary(self, workspace: str, recipient: str, reply: Reply) -> None:
        """A closed round's summary to one recipient from `summary_recipients`: a person's
        DM (`@USER`) or a channel; a failure raises, and the scheduler retries it.

        "executives" is a destination, not a recipient: expanded here, one executive's
        failure would either be swallowed or make the retry post to them all again, so it
        is refused (a caller's mistake: ask `summary_recipients` first)."""
        if not recipient or recipient == "executives":
            raise ValueError(
                f"Not one recipient: {recipient!r}; post to each of summary_recipients()."
            )
        if user_id := direct_user(recipient):
            self.send_reply(self.dm_channel(user_id), reply)
        else:
            self.send_reply(recipient.lstrip("#"), reply)

    def deliver(self, round_: Round) -> str:
        """Send a round to everyone in the workspace now (after `/integrity ask`): an admin
        asked for it, so the people are listed afresh rather than served from the last tick."""
        people = self.people(self.team_id, refresh=True)
        report = self.service.deliver(round_, people, self.send_round)
        failed = ""
        if report.failed:
            failed = f", {len(report.failed)} failed (retried by the scheduler)"
        logger.info("Round %s: sent %s%s", round_.number, report.sent, failed)
        return f"Sent to {report.sent} people{failed}."


def is_human(user: dict) -> bool:
    """An active, full member: no bots, apps, Slackbot, deactivated accounts or guests."""
    return not (
        user.get("deleted")
        or user.get("is_bot")
        or user.get("is_app_user")
        or user.get("id") == "USLACKBOT"
        or user.get("is_restricted")
        or user.get("is_ultra_restricted")
    )
