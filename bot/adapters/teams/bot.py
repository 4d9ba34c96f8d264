"""The Teams bot's inbound half: activities from Teams in, core calls, replies out.

Built on the Microsoft 365 Agents SDK: an `AgentApplication` routes the
activities and the SDK's JWT check guards `/api/messages`. Everything about
rounds, answers, permissions and the anonymity floor stays in the core; this
module only translates. What the bot sends unasked (check-ins, reminders,
summaries) is in `messenger.py`, which `TeamsBot` builds on.

- A message to the bot is a command word (`summary`, `status`, `answer`, …,
  the same words as `/integrity` in Slack), handled by `bot.core.commands.Commands`.
- The check-in is an Adaptive Card; its `Action.Execute` arrives as an
  `adaptiveCard/action` invoke, is recorded through the core, and is answered
  with the refreshed card.
- Installing the app (for a person, or in a team) or messaging it stores the
  person's conversation reference, so rounds can be sent proactively.
- A consent to a file offer uploads the file to the person's OneDrive.

The core is synchronous and may be slow (SQLite, the analysis engine), so it
runs in worker threads and never blocks the event loop that Slack shares.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import re
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    AdaptiveCardInvokeResponse,
    Attachment,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
    InvokeResponse,
)
from microsoft_agents.hosting.aiohttp import jwt_authorization_decorator, start_agent_process
from microsoft_agents.hosting.core import (
    AgentApplication,
    ApplicationOptions,
    Connections,
    MemoryStorage,
    TurnContext,
    TurnState,
)
from microsoft_agents.hosting.core.connector import ConnectorClientBase
from pydantic import ValidationError

from bot.adapters.teams import cards, files
from bot.adapters.teams.config import TeamsSettings
from bot.adapters.teams.messenger import PLATFORM, TeamsMessenger
from bot.core.anonymity import Floor
from bot.core.commands import Commands
from bot.core.domain import Person, Round
from bot.core.errors import IntegrityError, InvalidAnswer, failure_message
from bot.core.privacy import privacy_text
from bot.core.replies import Note, Reply, counted
from bot.core.service import KEEP, Grant, IntegrityCheck

logger = logging.getLogger(__name__)

ROUTE = "/api/messages"
#: Members asked for per page of a team's roster: Teams' largest page.
ROSTER_PAGE_SIZE = 500
#: How often one roster page is asked for again after Teams answers 429.
ROSTER_RETRIES = 5
#: The longest wait taken from a Retry-After header, and the wait when it has none.
ROSTER_MAX_WAIT_SECONDS = 60.0
ROSTER_DEFAULT_WAIT_SECONDS = 5.0
#: Commands that may take a few seconds: worth a typing indicator. Those with a progress
#: line (`Commands.progress`: summary, trend) are also answered proactively when done.
SLOW_COMMANDS = {"summary", "trend", "export"}
#: Teams shows a typing indicator for about three seconds.
TYPING_EVERY_SECONDS = 3.0
#: How long a stopping server waits for acknowledged work to be sent.
SHUTDOWN_GRACE_SECONDS = 20.0
#: The answer to a message in a channel or a group chat.
ONLY_IN_PRIVATE = (
    "Answers and summaries are private, so I only work in a 1:1 chat: open "
    "Integrity Check from the Apps menu and message me there."
)
#: Said once when the app is added to a group chat.
GROUP_CHAT_HELLO = (
    "Hi, I'm Integrity Check: every week I ask executives and frontline staff the same "
    "questions about how we treat our customers. " + ONLY_IN_PRIVATE
)
_AUTHORIZED = web.RequestKey("integrity_teams_authorized", bool)


class TeamsBot(TeamsMessenger):
    """One Teams bot serving the core: routes and replies, on top of the outbound half
    (`TeamsMessenger`: proactive check-ins, reminders, summaries)."""

    def __init__(
        self,
        service: IntegrityCheck,
        settings: TeamsSettings,
        *,
        http: Callable[[], aiohttp.ClientSession] = aiohttp.ClientSession,
        connections: Connections | None = None,
    ) -> None:
        super().__init__(service, settings, connections=connections)
        self.app: AgentApplication[TurnState] = AgentApplication[TurnState](
            ApplicationOptions(storage=MemoryStorage(), start_typing_timer=False),
            connection_manager=self.connections,
        )
        self.commands = Commands(service, on_round_started=self._round_started)
        self._http = http
        self._background: set[asyncio.Task] = set()
        #: How the bot waits before reading a throttled roster page again.
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        #: How often the typing indicator is shown again while a slow command works.
        self.typing_every = TYPING_EVERY_SECONDS
        self._routes()

    # -- wiring -----------------------------------------------------------------

    def _routes(self) -> None:
        app = self.app
        app.activity(ActivityTypes.message)(self.on_message)
        app.activity(ActivityTypes.conversation_update)(self.on_installed)
        app.activity(ActivityTypes.installation_update)(self.on_installed)
        app.adaptive_card.action_execute(cards.ANSWER_VERB)(self.on_card_answer)
        app.adaptive_card.action_execute(cards.REFRESH_VERB)(self.on_card_refresh)
        app.invoke("fileConsent/invoke")(self.on_file_consent)
        app.error(self.on_error)

    def mount(self, web_app: web.Application) -> None:
        """Serve POST /api/messages on `web_app`, behind the SDK's JWT check."""
        # The SDK's JWT check reads its configuration from this app key, by this name.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            web_app["agent_configuration"] = self.auth_configuration

        async def process(request: web.Request) -> web.StreamResponse:
            request[_AUTHORIZED] = True
            self.loop = asyncio.get_running_loop()
            try:
                Activity.model_validate(await request.json())
            except (ValueError, ValidationError) as error:
                # A malformed body is the sender's mistake: say so, rather than a 500.
                logger.warning("Refused a malformed activity: %s", str(error).splitlines()[0])
                return web.json_response(
                    {"error": "The body is not a valid Bot Framework activity."}, status=400
                )
            return await start_agent_process(request, self.app, self.adapter)

        checked = jwt_authorization_decorator(process)

        async def messages(request: web.Request) -> web.StreamResponse:
            try:
                return await checked(request)
            except Exception:
                if request.get(_AUTHORIZED):
                    raise
                # The SDK's check raises (rather than answering 401) on some malformed
                # tokens, e.g. one without a key id: still a request we must refuse.
                logger.warning("Refused a request to %s whose token could not be read", ROUTE)
                return web.json_response({"error": "Invalid token."}, status=401)

        web_app.router.add_post(ROUTE, messages)
        web_app.on_startup.append(self._on_startup)
        web_app.on_shutdown.append(self._on_shutdown)

    async def _on_startup(self, _: web.Application) -> None:
        self.loop = asyncio.get_running_loop()

    # -- people -----------------------------------------------------------------

    async def meet(self, activity: Activity) -> tuple[Person, bool]:
        """The person behind an activity; roles from INTEGRITY_TEAMS_* apply when first met."""
        return await self.meet_account(
            activity.from_property, tenant_of(activity), tz=activity.local_timezone
        )

    async def meet_account(
        self, account: ChannelAccount, tenant: str, *, tz: str | None = None
    ) -> tuple[Person, bool]:
        """The person behind a Teams account (a sender, or a member of a team)."""
        user_id = account.aad_object_id or account.id
        ids = {user_id.lower(), (account.id or "").lower()}
        grant: Grant | None = None
        if ids & self.settings.admins:
            grant = "admin"
        elif ids & self.settings.executives:
            grant = "executive"
        return await asyncio.to_thread(
            self.service.meet, PLATFORM, tenant, user_id, account.name or "", tz=tz, grant=grant
        )

    async def remember(self, person: Person, activity: Activity) -> None:
        """Keep where this person can be messaged, if this is their 1:1 chat with the bot."""
        if not is_personal(activity):
            return
        reference = activity.get_conversation_reference()
        data = reference.model_dump(mode="json", by_alias=True, exclude_none=True)
        await asyncio.to_thread(self.service.save_conversation_ref, person, data)

    # -- messages -----------------------------------------------------------------

    async def on_message(self, context: TurnContext, state: TurnState) -> None:
        activity = context.activity
        if not await self._first_sighting(activity):
            return  # Teams redelivered it: it was handled the first time
        person, is_new = await self.meet(activity)
        if not is_personal(activity):
            await context.send_activity(ONLY_IN_PRIVATE)
            return
        await self.remember(person, activity)
        if is_new:
            await context.send_activity(welcome(person, self.settings, self.service.settings.floor))
        text = await self.command_text(activity)
        if not text:
            return
        word = text.split(maxsplit=1)[0].lower()
        if word in {"/integrity", "integrity"}:
            text = text.split(maxsplit=1)[1] if " " in text else "help"
            word = text.split(maxsplit=1)[0].lower()
        current = await asyncio.to_thread(self.service.open_round)
        if text.strip().lower() == "answer" and current is not None:
            await context.send_activity(await self.checkin_activity(person, current))
            return
        ahead = await asyncio.to_thread(self.commands.progress, person, text)
        if ahead is not None:
            # A summary or a trend: say so now and answer when done. Teams gives a turn
            # 15 s, and with an LLM engine a summary takes longer, so the reply comes
            # proactively into this chat.
            await context.send_activity(ahead)
            await context.send_activity(Activity(type=ActivityTypes.typing))
            self.in_background(self.answer_later(person, text, word), f"the {word} command")
            return
        if word in SLOW_COMMANDS:
            await context.send_activity(Activity(type=ActivityTypes.typing))
        reply = await asyncio.to_thread(self.commands.handle, person, text)
        if word == "status" and (person.is_admin or person.is_executive):
            await self._add_unreachable(reply, person)
        for outgoing in self.reply_activities(reply, person):
            await context.send_activity(outgoing)

    async def answer_later(self, person: Person, text: str, word: str) -> None:
        """Run a slow command off the turn and send its reply into the person's 1:1
        chat, showing the typing indicator every few seconds while it works."""
        typing = asyncio.create_task(self._keep_typing(person))
        try:
            reply = await asyncio.to_thread(self.commands.handle, person, text)
        except Exception as error:
            logger.exception("Teams: `%s` failed after it was acknowledged", word)
            told = failure_message(error)  # "send it again" only for a failure that passes
            reply = Reply.text(f"I could not finish the {word}: {told[:1].lower()}{told[1:]}")
        finally:
            typing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await typing
        await self.send_proactive(person, self.reply_activities(reply, person))

    async def _keep_typing(self, person: Person) -> None:
        typing = Activity(type=ActivityTypes.typing)
        while True:
            await asyncio.sleep(self.typing_every)
            try:
                await self.send_proactive(person, [typing])
            except Exception:
                logger.warning("Teams: could not show %s the typing indicator", person.id)
                return

    async def command_text(self, activity: Activity) -> str:
        """The message text with Teams mentions turned into the ids the core knows."""
        text = activity.text or ""
        for entity in activity.entities or []:
            if entity.type != "mention":
                continue
            data = entity.model_dump(by_alias=True, exclude_none=True)
            mentioned = data.get("mentioned") or {}
            if mentioned.get("id") == (activity.recipient.id if activity.recipient else None):
                continue
            user_id = mentioned.get("aadObjectId") or mentioned.get("id")
            if not user_id or not data.get("text"):
                continue
            # Meet the mentioned person, so `role @them executive` finds them.
            await asyncio.to_thread(
                self.service.meet,
                PLATFORM,
                tenant_of(activity),
                user_id,
                mentioned.get("name") or "",
            )
            text = text.replace(data["text"], user_id)
        text = re.sub(r"</?at>", "", text)
        return " ".join(text.split())

    async def _add_unreachable(self, reply: Reply, person: Person) -> None:
        waiting = await asyncio.to_thread(
            self.service.people_without_conversation, PLATFORM, person.workspace
        )
        if waiting:
            names = ", ".join(p.display_name for p in waiting)
            reply.add(
                Note(
                    f"Not reachable in Teams yet ({len(waiting)}): {names}. They get check-ins "
                    "once they open Integrity Check in Teams (or it is installed for them)."
                )
            )
        else:
            reply.add(Note("Everyone known to the bot in Teams can be reached."))

    async def on_card_answer(
        self, context: TurnContext, state: TurnState, data: Any
    ) -> AdaptiveCardInvokeResponse:
        activity = context.activity
        person, _ = await self.meet(activity)
        await self.remember(person, activity)
        round_ = await self._card_round(data)
        if round_ is None:
            return card_response(cards.card(cards.text_blocks("This check-in no longer exists.")))
        message, color = "", "Good"
        if await self._first_sighting(activity):
            try:
                count = await asyncio.to_thread(self.record_card, person, round_, data or {})
                them = "it" if count == 1 else "them"
                message = (
                    f"Recorded {counted(count, 'answer')}. Thank you! You can change {them} "
                    "until the round closes."
                    if count
                    else "Nothing to record yet: choose a rating or write why, then send."
                )
                color = "Good" if count else "Warning"
            except IntegrityError as error:
                message, color = str(error), "Attention"
        content = await self.checkin_card(
            person, round_, message=message or None, color=color, user_id=activity.from_property.id
        )
        return card_response(content)

    async def on_card_refresh(
        self, context: TurnContext, state: TurnState, data: Any
    ) -> AdaptiveCardInvokeResponse:
        person, _ = await self.meet(context.activity)
        round_ = await self._card_round(data)
        if round_ is None:
            return card_response(cards.card(cards.text_blocks("This check-in is over.")))
        content = await self.checkin_card(person, round_, user_id=context.activity.from_property.id)
        return card_response(content)

    async def _card_round(self, data: Any) -> Round | None:
        try:
            round_id = int((data or {}).get("round"))
        except (TypeError, ValueError):
            return None
        rounds = await asyncio.to_thread(self.service.rounds)
        return next((r for r in rounds if r.id == round_id), None)

    def record_card(self, person: Person, round_: Round, data: dict) -> int:
        """Record the card's inputs through the core in one transaction (the card is one
        form: saved whole or not at all); how many questions were answered."""
        answers = {}  # question id -> (rating, why), as record_answers takes them
        for question in self.service.questions_for(person, round_):
            raw_rating = str(data.get(f"rating:{question.id}") or "").strip()
            why = str(data.get(f"why:{question.id}") or "").strip()
            if not raw_rating and not why:
                continue
            if raw_rating and raw_rating not in {"1", "2", "3", "4", "5"}:
                raise InvalidAnswer(f"A rating is a whole number from 1 to 5, not {raw_rating!r}.")
            # An empty half is kept as it was: an old card without the recorded
            # values filled in must not wipe them.
            answers[question.id] = (int(raw_rating) if raw_rating else KEEP, why or KEEP)
        if answers:
            self.service.record_answers(person, round_, answers, source=PLATFORM)
        return len(answers)

    # -- files --------------------------------------------------------------------

    async def on_file_consent(self, context: TurnContext, state: TurnState) -> None:
        value = context.activity.value or {}
        person, _ = await self.meet(context.activity)
        token = (value.get("context") or {}).get("file", "")
        file = self.pending_files.take(token, person.id)
        if value.get("action") == "accept" and file is not None:
            info = value.get("uploadInfo") or {}
            try:
                async with self._http() as session:
                    await files.upload(session, info["uploadUrl"], file.content)
                await context.send_activity(
                    Activity(
                        type=ActivityTypes.message,
                        attachments=[Attachment.model_validate(files.info_card(info))],
                    )
                )
            except Exception:
                logger.exception("Could not upload %s to OneDrive", file.name)
                await context.send_activity(
                    "I could not upload the file to your OneDrive. Please ask for it again."
                )
        elif value.get("action") == "accept":
            await context.send_activity("That file has expired. Please ask for it again.")
        await context.send_activity(
            Activity(type=ActivityTypes.invoke_response, value=InvokeResponse(status=200))
        )

    # -- installs -------------------------------------------------------------------

    async def on_installed(self, context: TurnContext, state: TurnState) -> None:
        """The app was added for someone (or to a chat): remember them and say hello once."""
        activity = context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        added = [m.id for m in activity.members_added or []]
        installing = activity.type == ActivityTypes.installation_update and (
            activity.action or "add"
        ).startswith("add")
        if activity.conversation and activity.conversation.conversation_type == "channel":
            await self.on_team_members(context, bot_id in added)
            return
        if not (installing or bot_id in added):
            return
        if not is_personal(activity):
            # A group chat: the members are told where to find the bot, once.
            if activity.conversation and await self._first_sighting(
                activity, f"install:{activity.conversation.id}"
            ):
                await context.send_activity(GROUP_CHAT_HELLO)
            return
        if not activity.from_property or activity.from_property.id == bot_id:
            return
        person, _ = await self.meet(activity)
        await self.remember(person, activity)  # a reinstall may bring a new service URL
        if not await self._first_sighting(activity, f"install:{activity.conversation.id}"):
            return  # conversationUpdate and installationUpdate both announce one install
        await context.send_activity(welcome(person, self.settings, self.service.settings.floor))
        current = await asyncio.to_thread(self.service.open_round)
        if current is not None:
            # Joining mid-round: they get this round's check-in now, once.
            await self.deliver_round(current, [person])

    async def on_team_members(self, context: TurnContext, installed: bool) -> None:
        """Installed in a team (or people joined it): open a 1:1 chat with each member.

        A team install is how an admin reaches everyone at once; check-ins and
        answers still only ever happen in each person's private chat with the bot.
        Opening thousands of chats takes minutes, past the 15 s Teams gives a turn, so
        it goes on in a proactive turn of its own.
        """
        activity = context.activity
        team = team_of(activity)
        if installed and not await self._first_sighting(activity, f"team:{team}"):
            return
        joined = None if installed else list(activity.members_added or [])
        if joined == []:
            return  # the team's own installationUpdate: the bot's membersAdded does the work
        self.in_background(
            self.reach_team(
                activity.get_conversation_reference(), team, tenant_of(activity), joined
            ),
            f"reaching the members of team {team}",
        )

    async def reach_team(
        self,
        reference: ConversationReference,
        team: str,
        tenant: str,
        joined: list[ChannelAccount] | None = None,
    ) -> None:
        """Open a 1:1 chat with the members who `joined`, or with every member of the
        team read from its roster, and say in the team how many were reached."""

        async def work(context: TurnContext) -> None:
            if joined is not None:
                await self._reach_members(context, joined, tenant)
                return
            client = context.services.get(ConnectorClientBase)
            reached = 0
            try:
                async for page in self.team_roster(client, team):
                    reached += len(await self._reach_members(context, page, tenant))
            except aiohttp.ClientError:
                logger.exception("Could not read the whole roster of team %s", team)
                await context.send_activity(
                    f"Integrity Check is installed, but Teams would not give me the whole "
                    f"list of this team's members: {counted(reached, 'member')} "
                    f"{'gets' if reached == 1 else 'get'} the weekly "
                    "check-in in a private 1:1 chat with me so far. Everyone else gets it "
                    "once they open Integrity Check from the Apps menu; an executive's "
                    "`status` lists who I cannot reach yet."
                )
                return
            await context.send_activity(
                f"Integrity Check is installed: {counted(reached, 'member')} of this team "
                f"{'gets' if reached == 1 else 'get'} the weekly check-in in a private 1:1 "
                "chat with me. Answers are anonymous, and summaries go to executives only."
            )

        await self.continue_in(reference, work)

    async def team_roster(
        self, client: ConnectorClientBase, team_id: str
    ) -> AsyncIterator[list[ChannelAccount]]:
        """A team's members, a page at a time, through Teams' paged members API.

        The non-paged `GET …/members` is deprecated: throttled to 5 calls a minute and
        cut off at 10,000 members. When Teams answers 429 (too many requests), the page
        is asked for again after the Retry-After it gives, a few times at most; past
        that the error is raised with the pages read so far already handed out."""
        token: str | None = None
        while True:
            for attempt in range(ROSTER_RETRIES + 1):
                try:
                    page = await client.conversations.get_conversation_paged_members(
                        team_id, page_size=ROSTER_PAGE_SIZE, continuation_token=token
                    )
                    break
                except aiohttp.ClientResponseError as error:
                    if error.status != 429 or attempt == ROSTER_RETRIES:
                        raise
                    wait = retry_after(error.headers)
                    logger.warning(
                        "Teams throttled the roster of team %s: reading on in %.0f s",
                        team_id,
                        wait,
                    )
                    await self.sleep(wait)
            yield list(page.members or [])
            token = page.continuation_token
            if not token:
                return

    async def _reach_members(
        self, context: TurnContext, members: list[ChannelAccount], tenant: str
    ) -> list[Person]:
        """Open a 1:1 chat with each member, and send them the open round if there is one."""
        people = await self.open_personal_chats(context, members, tenant)
        current = await asyncio.to_thread(self.service.open_round)
        if current is not None and people:
            await self.deliver_round(current, people)
        return people

    async def open_personal_chats(
        self, context: TurnContext, members: list[ChannelAccount], tenant: str
    ) -> list[Person]:
        """Create (or find) the 1:1 chat with each member of `tenant` and store where it is."""
        activity = context.activity
        client = context.services.get(ConnectorClientBase)
        reached = []
        for member in members:
            if not member.id or member.id == activity.recipient.id:
                continue
            try:
                created = await client.conversations.create_conversation(
                    ConversationParameters(
                        is_group=False,
                        agent=activity.recipient,
                        members=[ChannelAccount(id=member.id)],
                        tenant_id=tenant,
                        channel_data={"tenant": {"id": tenant}},
                    )
                )
            except Exception:
                # They stay listed as unreachable in `status`; nothing else depends on it.
                logger.exception("Could not open a 1:1 chat with a team member")
                continue
            person, _ = await self.meet_account(member, tenant)
            reference = ConversationReference(
                user=member,
                agent=activity.recipient,
                conversation=ConversationAccount(
                    id=created.id, conversation_type="personal", tenant_id=tenant
                ),
                channel_id=activity.channel_id,
                service_url=activity.service_url,
            )
            data = reference.model_dump(mode="json", by_alias=True, exclude_none=True)
            await asyncio.to_thread(self.service.save_conversation_ref, person, data)
            reached.append(person)
        return reached

    # -- plumbing -------------------------------------------------------------------------

    def in_background(self, work: Coroutine[Any, Any, None], what: str) -> None:
        """Go on with `work` after the turn has answered Teams; a failure is logged."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)

        def finished(task: asyncio.Task) -> None:
            self._background.discard(task)
            if not task.cancelled() and task.exception() is not None:
                logger.error("Teams: %s failed", what, exc_info=task.exception())

        task.add_done_callback(finished)

    async def settled(self) -> None:
        """Wait until the work handed on by `in_background` is done."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def _on_shutdown(self, _: web.Application) -> None:
        # A summary being worked out when the server stops gets a little time to arrive.
        try:
            await asyncio.wait_for(self.settled(), SHUTDOWN_GRACE_SECONDS)
        except TimeoutError:
            logger.warning("Teams: stopped with work still running; it is not sent")

    async def _first_sighting(self, activity: Activity, key: str | None = None) -> bool:
        """False when Teams redelivers an activity already handled (it retries slow turns)."""
        if key is None:
            if not activity.id:
                return True
            # Teams message ids are timestamps, unique only within a conversation.
            conversation = activity.conversation.id if activity.conversation else ""
            key = f"{conversation}:{activity.id}"
        return await asyncio.to_thread(self.service.first_sighting, f"{PLATFORM}:{key}")

    async def on_error(self, context: TurnContext, error: Exception) -> None:
        logger.exception("Teams turn failed", exc_info=error)
        if context.activity.type == ActivityTypes.message:
            await context.send_activity(failure_message(error))


def card_response(content: dict) -> AdaptiveCardInvokeResponse:
    """An `adaptiveCard/action` answer that replaces the card with `content`."""
    return AdaptiveCardInvokeResponse(status_code=200, type=cards.CARD_CONTENT_TYPE, value=content)


def tenant_of(activity: Activity) -> str:
    """The Microsoft 365 tenant: the workspace people and schedules belong to."""
    if activity.conversation and activity.conversation.tenant_id:
        return activity.conversation.tenant_id
    channel_data = activity.channel_data or {}
    if isinstance(channel_data, dict):
        tenant = (channel_data.get("tenant") or {}).get("id")
        if tenant:
            return tenant
    return "local"  # the Agents Playground and other local tools send no tenant


def team_of(activity: Activity) -> str:
    """The team a channel activity belongs to (its id is also its General channel's)."""
    channel_data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    return (channel_data.get("team") or {}).get("id") or activity.conversation.id


def is_personal(activity: Activity) -> bool:
    """A 1:1 chat between the person and the bot (where answers stay private)."""
    conversation = activity.conversation
    if conversation is None or conversation.is_group:
        return False
    return conversation.conversation_type in (None, "personal")


def retry_after(headers: Mapping[str, str] | None) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), within bounds."""
    value = (headers or {}).get("Retry-After", "")
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
            seconds = (when - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return ROSTER_DEFAULT_WAIT_SECONDS
    return min(max(seconds, 0.0), ROSTER_MAX_WAIT_SECONDS)


def welcome(person: Person, settings: TeamsSettings, floor: Floor) -> str:
    role = "an executive" if person.is_executive else "frontline"
    how = "Roles are set by an admin of Integrity Check, with `role @name executive`."
    return (
        f"Hi {person.display_name}, I'm Integrity Check. Every week I ask executives and "
        "frontline staff the same questions about how we treat our customers, and show "
        "leadership where the two views agree and where they contradict each other. Your "
        f"answers are anonymous. You are {role}{' and an admin' if person.is_admin else ''}. "
        f"{how} Send `help` for the commands.\n\n"
    ) + cards.text_for_message(privacy_text(floor))
