"""One event from a member: decrypted, checked, turned into a command, answered."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import nio

from bot.events import ChannelRef, Incoming, Reply, Visibility
from bot.usecases.answers import VOTE_REACTIONS

from .client import megolm_index
from .content import _strip_reply_fallback
from .errors import _safe
from .rooms import PLATFORM

if TYPE_CHECKING:
    from .adapter import MatrixAdapter
    from .store import SeenEvents

log = logging.getLogger(__name__)

DECRYPT_WAIT = 10.0


class EventHandler:
    """Acts on each event of a member, at most once (see ``seen_events``)."""

    def __init__(self, adapter: MatrixAdapter) -> None:
        self.adapter = adapter
        # The one bot message in each DM whose reactions count as vote answers.
        self.last_bot_event: dict[str, str] = {}
        # Members who opened a DM with the bot and have not written in it yet (memory only).
        self.to_greet: set[str] = set()

    @property
    def seen(self) -> SeenEvents:
        seen = self.adapter.seen
        assert seen is not None
        return seen

    async def handle(self, room_id: str, event: Any) -> None:
        adapter = self.adapter
        if str(getattr(event, "event_id", "")) in self.seen:
            return  # a replay: this event was acted on before a restart
        if getattr(event, "sender", None) == adapter.user_id:
            # The bot's own messages are never acted on; the keys of its old sessions are
            # dropped when a round closes, so waiting for them would only stall the worker.
            return
        if isinstance(event, nio.MegolmEvent):
            if self.ratcheted_past(event):
                # Its message key was deliberately forgotten when a round closed (the bot read
                # it before): no key will arrive, and asking the member's devices is pointless.
                log.debug("an event from before a ratchet point was skipped")
                return
            decrypted = await self.decrypt(event)
            if decrypted is None:
                await adapter.undecryptable.answer(room_id, event)
                return
            event = decrypted
        if not isinstance(event, nio.RoomMessageText | nio.ReactionEvent):
            return
        if event.sender == adapter.user_id:
            return
        room = adapter.require_client().rooms.get(room_id)
        if room is None:
            return
        relation = event.source.get("content", {}).get("m.relates_to") or {}
        if relation.get("rel_type") == "m.replace":
            return  # an edit: the original was handled (or refused) already
        channels = await adapter.rooms.round_channels()
        direct = adapter.rooms.is_direct_room(room, event.sender, channels)
        stale = self._stale_reaction(room_id, event, direct)
        text = str(event.key) if stale else self._command_text(room_id, event, direct)
        if text is None or not self.seen.add(event.event_id):
            return
        first = direct and event.sender in self.to_greet
        if first:
            self.to_greet.discard(event.sender)
        msg = self._incoming(room_id, event.sender, text, direct, channels)
        if stale:
            replies = await adapter.commands.ask_again(msg)
        else:
            replies = await adapter.commands.handle(msg)
        if first:
            replies = [*await self._first_dm(msg), *replies]
        for reply in replies:
            await self.deliver(msg, room, direct, reply)

    def _stale_reaction(self, room_id: str, event: Any, direct: bool) -> bool:
        """A vote reaction in a DM where the bot has sent nothing since it started: it answers
        a prompt from before a restart, which the bot cannot identify any more (which argument
        that message showed is kept nowhere), so it must neither count nor go unanswered."""
        return (
            isinstance(event, nio.ReactionEvent)
            and direct
            and event.key in VOTE_REACTIONS
            and room_id not in self.last_bot_event
        )

    def _command_text(self, room_id: str, event: Any, direct: bool) -> str | None:
        """What the member said to the bot, or None when the event is not addressed to it."""
        if isinstance(event, nio.ReactionEvent):
            if not direct or event.key not in VOTE_REACTIONS:
                return None
            if not self.adapter.commands.awaiting_vote(PLATFORM, event.sender):
                return None  # a reaction with no vote waiting for it is not addressed to the bot
            if self.last_bot_event.get(room_id) != event.reacts_to:
                return None
            return str(event.key)
        text = _strip_reply_fallback(event.body or "").strip()
        if not direct and not text.startswith("!"):
            return None  # ordinary conversation in a room is none of the bot's business
        return text

    async def _first_dm(self, msg: Incoming) -> list[Reply]:
        """What a member's first DM to the bot gets before the answer: the round open where
        they are, its question and numbered stances (nothing when no round is open there)."""
        commands = self.adapter.commands
        helped = await commands.cases.help(commands.actor(msg))
        if not helped.stances:
            return []
        return [Reply(self.adapter.messages("matrix_first_dm") + "\n\n" + helped.where)]

    def _incoming(
        self,
        room_id: str,
        sender: str,
        text: str,
        direct: bool,
        channels: dict[str, ChannelRef],
    ) -> Incoming:
        rooms = self.adapter.rooms
        if not direct:
            channel = channels.get(room_id, ChannelRef(PLATFORM, room_id))
            return Incoming(PLATFORM, sender, text, channel=channel, shared_channels=(channel,))
        if rooms.direct.get(sender) != room_id:
            rooms.direct[sender] = room_id
            rooms.save_direct()
        joined = self.adapter.require_client().rooms
        shared = tuple(
            ref
            for rid, ref in channels.items()
            if rid != room_id
            and rid in joined
            and sender in joined[rid].users
            and not joined[rid].users[sender].invited
        )
        return Incoming(PLATFORM, sender, text, channel=None, shared_channels=shared)

    async def decrypt(self, event: Any) -> Any | None:
        """Decrypt a Megolm event, waiting a little for its key to arrive (unless withheld)."""
        client = self.adapter.require_client()
        withheld = self.adapter.undecryptable.withheld_code
        requested = False
        decrypted = self._attempt(event)
        deadline = time.monotonic() + DECRYPT_WAIT
        while decrypted is None and time.monotonic() < deadline and withheld(event) is None:
            if not requested:
                requested = True
                try:
                    await client.request_room_key(event)
                except Exception as exc:  # the key may still arrive unasked
                    log.debug("asking for a room key failed: %s", _safe(exc))
            await self.adapter.next_sync(min(1.0, deadline - time.monotonic()))
            decrypted = self._attempt(event)
        if decrypted is None:
            log.warning("an event could not be decrypted")
        return decrypted

    def _attempt(self, event: Any) -> Any | None:
        try:
            return self.adapter.require_client().decrypt_event(event)
        except Exception as exc:  # no key yet: retried until DECRYPT_WAIT
            log.debug("an event does not decrypt yet: %s", type(exc).__name__)
            return None

    def ratcheted_past(self, event: Any) -> bool:
        """Whether ``event`` uses a message index its session no longer holds."""
        olm = self.adapter.require_client().olm
        if olm is None or not event.session_id or not event.sender_key:
            return False
        session = olm.inbound_group_store.get(event.room_id, event.sender_key, event.session_id)
        if session is None:
            return False
        index = megolm_index(event.ciphertext)
        if index is None:
            return False
        return bool(index < session.first_known_index)

    async def deliver(self, msg: Incoming, room: Any, direct: bool, reply: Reply) -> None:
        adapter = self.adapter
        # Exports are files a moderator asked for: in a public room they go to the DM.
        in_room = reply.visibility == Visibility.CHANNEL and not (
            reply.attachments and room.join_rule == "public"
        )
        if direct or in_room:
            target = room.room_id
        else:
            target = await adapter.rooms.direct_room(msg.user_id)
        prompt = adapter.commands.is_vote_prompt(PLATFORM, msg.user_id, reply)
        text = reply.text
        if prompt:
            text += "\n" + adapter.messages("matrix_vote_reactions")
        event_ids = await adapter.sender.send_text(target, text, None if prompt else reply.html)
        for attachment in reply.attachments:
            event_ids.append(await adapter.sender.send_file(target, attachment))
        if event_ids and (direct or target != room.room_id):
            # The one bot message in this DM whose reactions count as vote answers.
            self.last_bot_event[target] = event_ids[-1]
            if prompt:
                # One tap answers: the bot offers the three reactions it reads as votes.
                await adapter.sender.react(target, event_ids[-1], ("👍", "👎", "⏭️"))
