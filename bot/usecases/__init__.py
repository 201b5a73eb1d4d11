"""The use-cases under every front-end: the text commands (console, Matrix) and the Discord cogs.

A front-end turns what a member did into an :class:`Actor` and a call here, and renders the
result value it gets back; a refusal is an :class:`~bot.engine.EngineError` to render. The
decisions (which round a command means, whether the actor may moderate it, what the member is
told) are made here, once, for every platform.
"""

from __future__ import annotations

from bot.usecases.members import MemberCases
from bot.usecases.moderation import (
    DebateModeration,
    ExportTarget,
    ModerationCases,
    RoundModeration,
)
from bot.usecases.results import (
    Actor,
    ApproveResult,
    ArgumentForm,
    ArgumentResult,
    Choice,
    CloseResult,
    ExportResult,
    ExtendResult,
    HelpResult,
    HideResult,
    MineResult,
    ModeratedArgument,
    ModeratesAny,
    ModerationListResult,
    OpenResult,
    PositionResult,
    RoundLine,
    RoundsResult,
    VotePrompt,
    VoteResult,
    WithdrawResult,
    checked_by,
)


class UseCases(MemberCases, ModerationCases):
    """Every use-case, on one engine: ``UseCases(engine)``."""


__all__ = [
    "Actor",
    "ApproveResult",
    "ArgumentForm",
    "ArgumentResult",
    "Choice",
    "CloseResult",
    "DebateModeration",
    "ExportResult",
    "ExportTarget",
    "ExtendResult",
    "HelpResult",
    "HideResult",
    "MineResult",
    "ModeratedArgument",
    "ModeratesAny",
    "ModerationListResult",
    "OpenResult",
    "PositionResult",
    "RoundLine",
    "RoundModeration",
    "RoundsResult",
    "UseCases",
    "VotePrompt",
    "VoteResult",
    "WithdrawResult",
    "checked_by",
]
