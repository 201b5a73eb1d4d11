"""Typed configuration (``config.yaml``).

Every key is declared here; unknown keys are errors. Secrets never live in the file: the file
names the environment variables that hold them. ``load_config`` returns a :class:`Config` or
raises :class:`ConfigError` whose lines read ``config.yaml:14 debates[0].schedule.cron: hour 25
out of range 0-23``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, Union, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    Discriminator,
    Field,
    GetCoreSchemaHandler,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import core_schema

from bot.cron import validate_crontab
from bot.durations import parse_duration
from bot.platforms import REGISTRY, ChannelSettings, PlatformSettings
from bot.platforms.console import ConsoleChannel as ConsoleChannel
from bot.platforms.console import ConsoleConfig as ConsoleConfig
from bot.platforms.discord import DiscordChannel as DiscordChannel
from bot.platforms.discord import DiscordConfig as DiscordConfig
from bot.platforms.matrix import MatrixChannel as MatrixChannel
from bot.platforms.matrix import MatrixConfig as MatrixConfig
from bot.settings import Settings as _Model
from bot.settings import env_name as _env_name
from bot.yamlpos import LocatedError, LocatedErrors, load_yaml

if TYPE_CHECKING:
    from bot.packs import Pack

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class ConfigError(LocatedErrors):
    """The configuration is invalid; ``str()`` gives one line per problem."""


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value <= 0:
            raise ValueError("duration must be longer than zero")
        return timedelta(seconds=value)
    if not isinstance(value, str):
        raise ValueError("a duration such as 2d, 6h or 30m")
    return parse_duration(value)


class AnonymityConfig(_Model):
    min_group_size: int = Field(3, ge=1, le=1000)
    secret_env: str = "DEBATE_BOT_SECRET"
    # Where the server secret is kept when ``secret_env`` is unset; default
    # ``data_dir/server-secret``. Outside ``data_dir``, backups of the data do not carry it.
    secret_file: Path | None = None

    _check_env = field_validator("secret_env")(_env_name)


class LimitsConfig(_Model):
    """Per-participant limits that protect a round from floods."""

    actions_per_minute: int = Field(30, ge=1, le=10_000)
    arguments_per_participant: int = Field(3, ge=0, le=100)


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9464`` for IPv6) as a host and a port; ValueError if not."""
    import ipaddress

    text = value.strip()
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ValueError("give [IPv6 address]:port, e.g. [::1]:9464")
        try:
            if ipaddress.ip_address(host).version != 6:
                raise ValueError
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv6 address") from None
    else:
        host, sep, port = text.rpartition(":")
        if not sep or not host:
            raise ValueError("give host:port, e.g. 127.0.0.1:9464")
        if ":" in host:
            raise ValueError("an IPv6 address is written in brackets: [::1]:9464")
        if not _HOSTNAME.match(host):
            raise ValueError(f"{host!r} is not an IP address or a host name")
        if host.replace(".", "").isdigit():
            try:
                ipaddress.IPv4Address(host)
            except ValueError:
                raise ValueError(f"{host!r} is not an IPv4 address") from None
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"port {port!r}: a number from 1 to 65535 (0: any free port)")
    return host, int(port)


class ObservabilityConfig(_Model):
    """The optional HTTP listener for ``/healthz`` and ``/metrics`` (off unless ``listen``)."""

    # host:port; nothing is listened on when unset. The endpoints have no authentication:
    # keep them on loopback, or on a network only the supervisor and Prometheus reach.
    listen: str | None = None
    # Matrix counts as disconnected when its last successful sync is older than this (the
    # bot long-polls for 30 s, so an idle but healthy connection syncs at least that often).
    matrix_sync_max_age: timedelta = timedelta(seconds=90)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen(value)
        return value

    @field_validator("matrix_sync_max_age", mode="before")
    @classmethod
    def _age(cls, value: Any) -> timedelta:
        return _duration(value)

    def address(self) -> tuple[str, int] | None:
        return None if self.listen is None else parse_listen(self.listen)


S = TypeVar("S", bound=PlatformSettings)


class PlatformsConfig:
    """``platforms:``: the settings of every registered platform (defaults where absent).

    Its keys are the names in :data:`bot.platforms.REGISTRY`; each is validated by that
    platform's own settings model. ``of(MatrixConfig)`` gives one platform's settings, typed.
    """

    def __init__(self, settings: Mapping[str, PlatformSettings] | None = None) -> None:
        given = dict(settings or {})
        self._settings: dict[str, PlatformSettings] = {}
        for platform in REGISTRY:
            found = given.pop(platform.name, None)
            self._settings[platform.name] = found if found is not None else platform.settings()
        self._settings.update(given)

    def of(self, model: type[S]) -> S:
        """The settings of the platform whose settings model is ``model``."""
        for value in self._settings.values():
            if isinstance(value, model):
                return value
        return model()

    def get(self, name: str) -> PlatformSettings | None:
        """The settings of the platform called ``name`` (None if no such platform)."""
        return self._settings.get(name)

    def enabled(self) -> list[str]:
        return [name for name, value in self._settings.items() if value.enabled]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlatformsConfig) and self._settings == other._settings

    def __hash__(self) -> int:
        return hash(tuple(self._settings.items()))

    def __repr__(self) -> str:
        return f"PlatformsConfig({self._settings!r})"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        fields = {
            platform.name: core_schema.typed_dict_field(
                handler.generate_schema(platform.settings), required=False
            )
            for platform in REGISTRY
        }

        def validate(value: Any, handler: core_schema.ValidatorFunctionWrapHandler) -> Any:
            return value if isinstance(value, cls) else cls(handler(value))

        return core_schema.no_info_wrap_validator_function(
            validate,
            core_schema.typed_dict_schema(fields, extra_behavior="forbid"),
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda value: {name: s.model_dump() for name, s in value._settings.items()}
            ),
        )


class _RegisteredChannel:
    """A debate's channel: validated by the channel model of the platform it names."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        models = tuple(platform.channel for platform in REGISTRY)
        union: Any = models[0] if len(models) == 1 else Union[models]  # noqa: UP007
        return handler.generate_schema(Annotated[union, Field(discriminator="platform")])


ChannelConfig = Annotated[ChannelSettings, _RegisteredChannel]


class CronSchedule(_Model):
    cron: str

    @field_validator("cron")
    @classmethod
    def _valid(cls, value: str) -> str:
        validate_crontab(value)
        return value


class AtSchedule(_Model):
    at: list[datetime] = Field(min_length=1)


class EverySchedule(_Model):
    every: Annotated[timedelta, Field()]
    start: datetime | None = None

    @field_validator("every", mode="before")
    @classmethod
    def _dur(cls, value: Any) -> timedelta:
        return _duration(value)


class ManualSchedule(_Model):
    """Rounds of this debate open only when a moderator asks."""

    manual: Literal[True]


def _schedule_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("cron", "at", "every", "manual"):
            if key in value:
                return f"{key}-schedule"
        return None
    for kind, cls in (
        ("cron", CronSchedule),
        ("at", AtSchedule),
        ("every", EverySchedule),
        ("manual", ManualSchedule),
    ):
        if isinstance(value, cls):
            return f"{kind}-schedule"
    return None


Schedule = Annotated[
    Annotated[CronSchedule, Tag("cron-schedule")]
    | Annotated[AtSchedule, Tag("at-schedule")]
    | Annotated[EverySchedule, Tag("every-schedule")]
    | Annotated[ManualSchedule, Tag("manual-schedule")],
    Discriminator(
        _schedule_kind,
        custom_error_type="schedule",
        custom_error_message="give one of cron, at, every or manual",
    ),
]


class DebateConfig(_Model):
    id: str
    title: str
    pack: str
    questions: list[str] = Field(default_factory=list)
    order: Literal["sequential", "random"] = "sequential"
    schedule: Schedule = Field(default_factory=lambda: ManualSchedule(manual=True))
    round_duration: timedelta = timedelta(days=2)
    reminder_before_close: timedelta | None = None
    stances: list[str] = Field(
        default_factory=lambda: ["pour", "contre", "nuance", "abstention"], min_length=2
    )
    argument_max_chars: int = Field(1000, ge=10, le=4000)
    statement_voting: bool = True
    # Each round opens with the previous round's common-ground and divisive arguments to vote on.
    follow_up: bool = False
    channels: list[ChannelConfig] = Field(default_factory=list)
    # Where moderators read new arguments (text and number only), posted in shuffled batches
    # at fixed ticks every ``moderation_batch``, so that a post's time names no author.
    moderation_channel: ChannelConfig | None = None
    moderation_batch: timedelta = timedelta(minutes=10)
    # post: arguments are put to the vote at once, moderators hide after; pre: an argument
    # waits for a moderator's approval (``!debat approuver <n>``) before anyone votes on it.
    moderation: Literal["post", "pre"] = "post"

    @field_validator("id", "pack")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError("use lowercase letters, digits and dashes")
        return value

    @field_validator("round_duration", "reminder_before_close", mode="before")
    @classmethod
    def _dur(cls, value: Any) -> timedelta | None:
        return None if value is None else _duration(value)

    @field_validator("moderation_batch", mode="before")
    @classmethod
    def _batch(cls, value: Any) -> timedelta:
        batch = _duration(value)
        if batch < timedelta(minutes=1):
            raise ValueError("moderation_batch must be at least 1 minute (e.g. 10m)")
        return batch

    @field_validator("stances")
    @classmethod
    def _stances(cls, value: list[str]) -> list[str]:
        for stance in value:
            if not _SLUG.match(stance):
                raise ValueError(f"stance {stance!r}: use lowercase letters, digits and dashes")
        if len(set(value)) != len(value):
            raise ValueError("stances must be distinct")
        return value

    @model_validator(mode="after")
    def _reminder(self) -> DebateConfig:
        if self.reminder_before_close and self.reminder_before_close >= self.round_duration:
            raise ValueError("reminder_before_close must be shorter than round_duration")
        return self

    @model_validator(mode="after")
    def _follow_up(self) -> DebateConfig:
        if self.follow_up and not self.statement_voting:
            raise ValueError(
                "follow_up needs statement_voting: carried-over arguments are voted on"
            )
        return self


class Config(_Model):
    """The whole configuration file."""

    language: Literal["fr", "en"] = "fr"
    timezone: str = "Europe/Paris"
    data_dir: Path = Path("./data")
    database_url: str | None = None
    packs_dir: Path | None = None
    late_open_grace: timedelta = timedelta(hours=1)
    # Several processes on one PostgreSQL: how long the leader's lease lasts (renewed every third).
    leader_lease: timedelta = timedelta(seconds=15)
    # Closed rounds older than this are deleted with everything in them (None: keep).
    retention: timedelta | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # text: one human-readable line per record; json: one JSON object per line (journald, Loki).
    log_format: Literal["text", "json"] = "text"
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    anonymity: AnonymityConfig = Field(default_factory=AnonymityConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    platforms: PlatformsConfig = Field(default_factory=PlatformsConfig)
    debates: list[DebateConfig] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Paris, UTC)") from None
        return value

    @field_validator("late_open_grace", mode="before")
    @classmethod
    def _dur(cls, value: Any) -> timedelta | None:
        return None if value is None else _duration(value)

    @field_validator("leader_lease", mode="before")
    @classmethod
    def _lease(cls, value: Any) -> timedelta:
        lease = _duration(value)
        if lease < timedelta(seconds=1):
            raise ValueError("the lease must last at least 1s")
        return lease

    @field_validator("retention", mode="before")
    @classmethod
    def _age(cls, value: Any) -> timedelta | None:
        if value is None or isinstance(value, timedelta):
            return value
        from bot.durations import parse_age

        return parse_age(str(value))

    @field_validator("database_url")
    @classmethod
    def _db(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _unique_debates(self) -> Config:
        seen: set[str] = set()
        for debate in self.debates:
            if debate.id in seen:
                raise ValueError(f"debate id {debate.id!r} is used twice")
            seen.add(debate.id)
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def debate(self, debate_id: str) -> DebateConfig:
        for debate in self.debates:
            if debate.id == debate_id:
                return debate
        raise KeyError(debate_id)

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'debates.db'}"

    def resolved_packs_dir(self) -> Path:
        if self.packs_dir is not None:
            return self.packs_dir
        from bot.packs import default_packs_dir

        return default_packs_dir()

    def load_packs(self) -> dict[str, Pack]:
        """The bundled packs, plus those of ``packs_dir`` (which win on a shared id)."""
        from bot.packs import default_packs_dir, load_packs

        packs = load_packs(default_packs_dir())
        if self.packs_dir is not None and self.packs_dir.resolve() != default_packs_dir():
            packs.update(load_packs(self.packs_dir))
        return dict(sorted(packs.items()))

    def secret(self) -> str | None:
        return os.environ.get(self.anonymity.secret_env) or None

    def secret_path(self) -> Path:
        return self.anonymity.secret_file or self.data_dir / "server-secret"

    def load_secret(self) -> bytes:
        """The server secret: from the environment, else from :meth:`secret_path`."""
        from bot.anonymity import load_or_create_secret

        return load_or_create_secret(self.secret_path(), self.secret())


def load_config(path: Path, *, check_packs: bool = True) -> Config:
    """Read and validate ``path``; relative paths in it are relative to its directory."""
    try:
        loaded = load_yaml(path, display_name=path.name)
    except LocatedErrors as exc:
        raise ConfigError(exc.errors) from None
    data = loaded.data if loaded.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError([LocatedError(loaded.file, 1, "", "the file must hold a mapping")])
    duplicates = _duplicate_debate_ids(data, loaded.file, loaded.line_for)
    if duplicates:
        raise ConfigError(duplicates)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        located = loaded.errors_from(exc, known_keys=config_keys(), union_tags=REGISTRY.names())
        raise ConfigError(located.errors) from None
    base = path.resolve().parent
    updates: dict[str, Any] = {}
    if not config.data_dir.is_absolute():
        updates["data_dir"] = (base / config.data_dir).resolve()
    secret_file = config.anonymity.secret_file
    if secret_file is not None and not secret_file.is_absolute():
        anonymity = config.anonymity.model_copy(
            update={"secret_file": (base / secret_file).resolve()}
        )
        updates["anonymity"] = anonymity
    if config.packs_dir is not None and not config.packs_dir.is_absolute():
        updates["packs_dir"] = (base / config.packs_dir).resolve()
    if config.database_url and config.database_url.startswith("sqlite:///"):
        db_path = Path(config.database_url[len("sqlite:///") :])
        if str(db_path) != ":memory:" and not db_path.is_absolute():
            updates["database_url"] = f"sqlite:///{(base / db_path).resolve()}"
    if updates:
        config = config.model_copy(update=updates)
    moderation = check_moderation_channels(config, loaded.file, loaded.line_for)
    if moderation:
        raise ConfigError(moderation)
    if check_packs:
        errors = check_debates_against_packs(config, loaded.file, loaded.line_for)
        if errors:
            raise ConfigError(errors)
    return config


def check_moderation_channels(
    config: Config, file: str, line_for: Any = lambda _path: None
) -> list[LocatedError]:
    """Every ``moderation_channel`` is on an enabled platform: moderators must see it."""
    enabled = set(config.platforms.enabled())
    errors = []
    for index, debate in enumerate(config.debates):
        channel = debate.moderation_channel
        if channel is not None and channel.platform not in enabled:
            errors.append(
                LocatedError(
                    file,
                    line_for(("debates", index, "moderation_channel")),
                    f"debates[{index}].moderation_channel",
                    f"platform {channel.platform} is not enabled (platforms.{channel.platform}"
                    ".enabled: true), so moderators would never see this channel",
                )
            )
    return errors


def _duplicate_debate_ids(data: dict[str, Any], file: str, line_for: Any) -> list[LocatedError]:
    """A debate id used twice, reported at its second ``id:`` (with the first one's line)."""
    debates = data.get("debates")
    if not isinstance(debates, list):
        return []
    first: dict[str, int] = {}
    errors = []
    for index, debate in enumerate(debates):
        debate_id = debate.get("id") if isinstance(debate, dict) else None
        if not isinstance(debate_id, str):
            continue
        if debate_id in first:
            errors.append(
                LocatedError(
                    file,
                    line_for(("debates", index, "id")),
                    f"debates[{index}].id",
                    f"debate id {debate_id!r} is already used by debates[{first[debate_id]}] "
                    f"(line {line_for(('debates', first[debate_id], 'id'))})",
                )
            )
        else:
            first[debate_id] = index
    return errors


def config_keys() -> frozenset[str]:
    """Every key the configuration knows, at any depth (for "did you mean" hints)."""
    keys: set[str] = set()
    seen: set[type] = set()

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation in seen:
                return
            seen.add(annotation)
            for name, info in annotation.model_fields.items():
                keys.add(info.alias or name)
                visit(info.annotation)
            return
        for argument in get_args(annotation):
            visit(argument)

    visit(Config)
    for platform in REGISTRY:
        keys.add(platform.name)
        visit(platform.settings)
        visit(platform.channel)
    return frozenset(keys)


def _rebuild_models() -> None:
    """A platform was registered: rebuild the models whose schema lists the platforms."""
    DebateConfig.model_rebuild(force=True)
    Config.model_rebuild(force=True)


REGISTRY.on_change(_rebuild_models)


def check_debates_against_packs(
    config: Config, file: str, line_for: Any = lambda _path: None
) -> list[LocatedError]:
    """Every debate names an existing pack and existing question ids."""
    from bot.packs import PackError

    try:
        packs = config.load_packs()
    except PackError as exc:
        return list(exc.errors)
    errors: list[LocatedError] = []
    for index, debate in enumerate(config.debates):
        pack = packs.get(debate.pack)
        if pack is None:
            path = ("debates", index, "pack")
            known = ", ".join(sorted(packs)) or "none"
            errors.append(
                LocatedError(
                    file,
                    line_for(path),
                    f"debates[{index}].pack",
                    f"unknown pack {debate.pack!r} (available: {known})",
                )
            )
            continue
        known_ids = set(pack.item_ids())
        for q_index, question in enumerate(debate.questions):
            if question not in known_ids:
                qpath = ("debates", index, "questions", q_index)
                errors.append(
                    LocatedError(
                        file,
                        line_for(qpath),
                        f"debates[{index}].questions[{q_index}]",
                        f"pack {pack.id!r} has no question {question!r}",
                    )
                )
    return errors


def config_warnings(config: Config) -> list[str]:
    """Things that are allowed but probably not meant."""
    warnings = []
    enabled = set(config.platforms.enabled())
    for index, debate in enumerate(config.debates):
        for c_index, channel in enumerate(debate.channels):
            if channel.platform not in enabled:
                warnings.append(
                    f"debates[{index}].channels[{c_index}]: platform {channel.platform} is not "
                    "enabled; this channel will be skipped"
                )
        if not debate.channels:
            warnings.append(f"debates[{index}]: no channels; its rounds will not be announced")
    return warnings
