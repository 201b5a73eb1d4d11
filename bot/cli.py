"""``debate-bot`` subcommands: run, check-config, demo, export, analyze, packs, rounds, purge."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot import __version__
from bot.anonymity import SecretError
from bot.config import Config, ConfigError, config_warnings, load_config
from bot.db import InstanceLockError
from bot.durations import parse_age
from bot.files import write_private
from bot.yamlpos import LocatedErrors

if TYPE_CHECKING:
    from bot.app import App
    from bot.logs import LogFormat
    from bot.platforms import AdapterFactory

log = logging.getLogger(__name__)
# Exit codes, for supervisors (systemd's Restart=on-failure, Docker restart policies).
EXIT_OK = 0  # asked to stop (SIGTERM/SIGINT), or the console's scripted input is done
EXIT_ERROR = 1  # the bot could not start or failed (another instance, the secret, …)
EXIT_USAGE = 2  # the configuration or the command line is invalid
EXIT_NOTHING_TO_SERVE = 3  # only the console is enabled and its input is closed
EXIT_PLATFORM = 4  # a platform cannot start: token missing or refused, server unreachable
EXIT_DATABASE = 5  # the database cannot be reached or used
EXIT_INTERRUPTED = 130  # a second SIGINT/SIGTERM forced the exit during the clean stop


CONFIG_ENV = "DEBATE_BOT_CONFIG"


class MissingConfig(Exception):
    """No ``--config``, no ``./config.yaml`` and no ``$DEBATE_BOT_CONFIG``."""


def default_config_path() -> Path:
    """``./config.yaml`` if present, else ``$DEBATE_BOT_CONFIG``; never a file elsewhere.

    (Falling back silently to an example file, wherever the command runs, would run the bot
    on a configuration the operator never wrote.)
    """
    here = Path("config.yaml")
    if here.exists():
        return here
    named = os.environ.get(CONFIG_ENV)
    if named:
        return Path(named)
    raise MissingConfig(
        f"no configuration: ./config.yaml does not exist and ${CONFIG_ENV} is not set; "
        "pass --config PATH"
    )


def _with_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, default=None, help="config file (config.yaml)")


def _args_run(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--reset-cross-signing",
        action="store_true",
        help="Matrix: replace the account's cross-signing keys if this bot does not hold them",
    )


def _args_check_config(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--offline",
        action="store_true",
        help="check the file only, not the environment (tokens) of the enabled platforms",
    )


def _args_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--participants", type=int, default=12)
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--debate", default=None, help="debate id (default: the first one)")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the demo keeps its database (default: a new temporary directory)",
    )


def _args_export(p: argparse.ArgumentParser) -> None:
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--round", help="round id or code")
    which.add_argument("--debate", help="every summarised round of this debate")
    from bot.summary.export import export_format_names

    p.add_argument("--format", choices=list(export_format_names()), default="md")
    p.add_argument("--output", type=Path, default=None, help="file to write (default: stdout)")


def _args_analyze(p: argparse.ArgumentParser) -> None:
    p.add_argument("--votes", type=Path, required=True)
    p.add_argument("--comments", type=Path, default=None)
    p.add_argument("--format", choices=["json", "md", "html"], default="json")
    p.add_argument("--replay", action="store_true", help="replay update by update, as Polis")
    p.add_argument(
        "--replay-cadence",
        choices=["coarse", "polis"],
        default="coarse",
        help="coarse: a few dozen updates (fast); polis: Polis's one-second cadence (an update "
        "per second of activity: up to ~20 times the cold analysis on the shared Polis data)",
    )
    p.add_argument(
        "--exclude",
        default="",
        help="comma-separated statement ids to leave out (e.g. Polis 'meta' statements)",
    )
    p.add_argument("--output", type=Path, default=None)
    p.add_argument("--seed", type=int, default=0)


def _args_packs(p: argparse.ArgumentParser) -> None:
    packs_sub = p.add_subparsers(dest="packs_command", required=True)
    packs_sub.add_parser("list")
    show = packs_sub.add_parser("show")
    show.add_argument("pack_id")


def _args_rounds(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debate", default=None)
    p.add_argument("--json", action="store_true")


def _args_backup(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", type=Path, required=True, help="file to write (mode 0600)")


def _args_restore(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", type=Path, required=True, help="a file written by `backup`")
    p.add_argument("--force", action="store_true", help="replace a database that holds data")
    p.add_argument(
        "--allow-new-secret",
        action="store_true",
        help="restore open rounds without the server secret (their members count anew)",
    )


def _args_migrate(p: argparse.ArgumentParser) -> None:
    p.add_argument("--check", action="store_true", help="only report: 0 up to date, 1 pending")


def _args_invite_url(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--application-id",
        type=int,
        default=None,
        help="the Discord application id (default: read from the bot token's first part)",
    )


def _args_purge(p: argparse.ArgumentParser) -> None:
    p.add_argument("--older-than", required=True, help="e.g. 180d")
    p.add_argument("--yes", action="store_true", help="do it (otherwise only count)")


def _no_args(p: argparse.ArgumentParser) -> None:
    del p


# name, help, its own arguments, whether it reads the config file (``--config``).
_SUBCOMMANDS: tuple[tuple[str, str, Callable[[argparse.ArgumentParser], None], bool], ...] = (
    ("run", "run every platform enabled in the config", _args_run, True),
    (
        "check-config",
        "validate the config, its packs and each platform's environment",
        _args_check_config,
        True,
    ),
    ("demo", "an accelerated round with simulated participants", _args_demo, True),
    ("export", "write the summary of closed rounds", _args_export, True),
    ("analyze", "opinion groups of a Polis-format export", _args_analyze, False),
    ("packs", "list or show the debate packs", _args_packs, True),
    ("rounds", "list rounds with their state", _args_rounds, True),
    ("backup", "consistent copy of the database (never the server secret)", _args_backup, True),
    ("restore", "copy a backup into a fresh data_dir (bot stopped)", _args_restore, True),
    ("migrate", "apply pending database migrations (bot stopped)", _args_migrate, True),
    ("invite-url", "the link that adds the bot to a Discord server", _args_invite_url, True),
    ("reload", "make the running bot re-read its config (SIGHUP)", _no_args, True),
    ("purge", "delete closed rounds older than a duration", _args_purge, True),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="debate-bot",
        description="Civic debate facilitation bot for Discord and Matrix.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text, add_arguments, reads_config in _SUBCOMMANDS:
        p = sub.add_parser(name, help=help_text)
        if reads_config:
            _with_config(p)
        add_arguments(p)
    return parser


def _setup_logging(level: str, fmt: LogFormat = "text") -> None:
    from bot.logs import setup_logging

    setup_logging(level, fmt=fmt)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _main(args)
    except BrokenPipeError:
        # The reader went away (`debate-bot packs show … | head`): that is not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def _main(args: argparse.Namespace) -> int:
    try:
        return _dispatch(args)
    except (ConfigError, LocatedErrors) as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        return EXIT_USAGE
    except MissingConfig as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (InstanceLockError, SecretError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_OK


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "check-config":
        return cmd_check_config(args)
    if args.command == "analyze":
        return _analyze(args)
    path = args.config or default_config_path()
    config = load_config(path)
    if args.command == "packs":
        return cmd_packs(config, args)
    _setup_logging(config.log_level if args.command == "run" else "WARNING", config.log_format)
    if args.command == "run":
        log.info("configuration: %s", path.resolve())
        adapters = None
        if args.reset_cross_signing:
            from bot.adapters.matrix import with_cross_signing_reset

            adapters = with_cross_signing_reset(config)
        return asyncio.run(cmd_run(config, adapters=adapters, config_path=path))
    return _CONFIGURED[args.command](config, args)


def _analyze(args: argparse.Namespace) -> int:
    from bot.summary.analyze_cli import run as run_analyze

    code: int = run_analyze(
        args.votes,
        args.comments,
        args.format,
        args.replay,
        args.output,
        seed=args.seed,
        cadence=args.replay_cadence,
        exclude=args.exclude.split(","),
    )
    return code


def _demo(config: Config, args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    return asyncio.run(
        run_demo(config, args.participants, args.seconds, args.debate, data_dir=args.data_dir)
    )


def _restore(config: Config, args: argparse.Namespace) -> int:
    from bot.ops import cmd_restore

    return cmd_restore(
        config, args.input, force=args.force, allow_new_secret=args.allow_new_secret
    )


def _migrate(config: Config, args: argparse.Namespace) -> int:
    from bot.ops import cmd_migrate

    return cmd_migrate(config, check=args.check)


def _invite_url(config: Config, args: argparse.Namespace) -> int:
    from bot.ops import cmd_invite_url

    return cmd_invite_url(config, args.application_id)


async def _start(app: App) -> int | None:
    """Start ``app``; on a failure to start, one line on stderr and the exit code.

    The traceback goes to the log at DEBUG only: an operator needs the setting to fix, and a
    supervisor the exit code to decide whether restarting can help.
    """
    import sqlalchemy as sa

    from bot.app import PlatformStartError
    from bot.health import ObservabilityError
    from bot.logs import scrub

    try:
        await app.start()
    except PlatformStartError as exc:
        message, code = f"error: {exc}", EXIT_PLATFORM
    except ObservabilityError as exc:
        message, code = f"error: {exc}", EXIT_ERROR
    except (sa.exc.DBAPIError, sa.exc.ArgumentError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        message = f"error: the database cannot be used (database_url): {reason}"
        code = EXIT_DATABASE
    else:
        return None
    log.debug("start-up failure", exc_info=True)
    print(scrub(message), file=sys.stderr)
    await app.stop()
    return code


def cmd_reload(config: Config) -> int:
    """Signal the bot running on this config's data directory to re-read its config."""
    from bot.db import running_pid

    pid = running_pid(config.data_dir)
    if pid is None:
        print(f"error: no debate-bot is running with {config.data_dir}", file=sys.stderr)
        return EXIT_ERROR
    os.kill(pid, signal.SIGHUP)
    print(f"asked debate-bot (pid {pid}) to reload its configuration; its log says the result")
    return EXIT_OK


def cmd_check_config(args: argparse.Namespace) -> int:
    path = args.config or default_config_path()
    config = load_config(path)
    for warning in config_warnings(config):
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"{path}: OK ({len(config.debates)} debate(s), platforms: "
        f"{', '.join(config.platforms.enabled()) or 'none'})"
    )
    if args.offline:
        return EXIT_OK
    from bot.readiness import platform_problems

    code = EXIT_OK
    for platform, problems in platform_problems(config).items():
        if not problems:
            print(f"{platform}: ready")
        for problem in problems:
            print(f"{platform}: not ready: {problem}", file=sys.stderr)
            code = EXIT_PLATFORM
    return code


def cmd_packs(config: Config, args: argparse.Namespace) -> int:
    from bot.packs import source_line

    packs = config.load_packs()
    lang = config.language
    if args.packs_command == "list":
        for pack in packs.values():
            print(f"{pack.id}\t{len(pack.items)} questions\t{pack.title}")
        return EXIT_OK
    found = packs.get(args.pack_id)
    if found is None:
        print(f"unknown pack {args.pack_id!r}; available: {', '.join(packs)}", file=sys.stderr)
        return EXIT_USAGE
    pack = found
    print(f"{pack.id} — {pack.title}")
    print(source_line(pack, lang))
    section = None
    for item in pack.items:
        if item.section != section:
            section = item.section
            print(f"\n## {section}")
        quote = "«»" if item.quote else "  "
        print(f"\n[{item.id}] {quote} {item.prompt.get(lang)}")
        print(f"    {item.prompt.get('en' if lang == 'fr' else 'fr')}")
        print(f"    > {item.context.get(lang)}")
        if item.stances:
            print(f"    stances: {', '.join(item.stances)}")
    sys.stdout.flush()  # a closed pipe shows here, inside main's handler
    return EXIT_OK


async def _wait(event: asyncio.Event) -> object:
    return await event.wait()


async def cmd_run(
    config: Config,
    adapters: dict[str, AdapterFactory] | None = None,
    stdin: TextIO | None = None,
    config_path: Path | None = None,
) -> int:
    """Serve until SIGTERM/SIGINT, whatever standard input does.

    The console reads standard input only when it is enabled; when that input ends the
    console stops and the other platforms go on. If the console is the only platform, the end
    of its input ends the run: with code 0 after a scripted session, with
    ``EXIT_NOTHING_TO_SERVE`` and one line saying what to enable when there was no input at
    all (systemd, ``nohup``, Docker without ``-i``: standard input is ``/dev/null``).
    """
    from bot.app import App

    app = App(config, adapters=adapters)
    stop = asyncio.Event()
    reloads: set[asyncio.Task[bool]] = set()
    _handle_signals(app, stop, config_path, reloads)
    failed = await _start(app)
    if failed is not None:
        return failed
    log.info("running: %s", ", ".join(app.adapters) or "no platform")
    stopping = asyncio.create_task(_wait(stop))
    try:
        code = await _serve(app, stopping, stdin)
    finally:
        stopping.cancel()
        await app.stop()
    return code


def _handle_signals(
    app: App, stop: asyncio.Event, config_path: Path | None, reloads: set[asyncio.Task[bool]]
) -> None:
    """SIGINT/SIGTERM stop cleanly (a second one exits at once); SIGHUP reloads the config."""
    loop = asyncio.get_running_loop()

    def request_stop(sig: signal.Signals) -> None:
        if not stop.is_set():
            stop.set()  # the first signal: stop cleanly (flush what was acknowledged)
            return
        # A second signal while stopping (a flush stuck on an unreachable database or
        # platform): exit now. Every acknowledged write is committed already; posts not yet
        # marked delivered go out at the next start, under the same keys.
        log.warning("second %s while stopping: exiting at once", sig.name)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop, sig)
    if config_path is None:
        return
    path = config_path

    def reload() -> None:
        task = asyncio.create_task(app.reload(path))
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, reload)


async def _serve(app: App, stopping: asyncio.Task[object], stdin: TextIO | None) -> int:
    """Wait for a stop request, reading the console's input meanwhile if it is enabled."""
    from bot.adapters.console import ConsoleAdapter

    console = app.adapters.get("console")
    if not isinstance(console, ConsoleAdapter):
        await stopping
        return EXIT_OK
    reading = asyncio.create_task(console.run(stdin if stdin is not None else sys.stdin))
    try:
        await asyncio.wait([stopping, reading], return_when=asyncio.FIRST_COMPLETED)
        if not reading.done() or stopping.done():
            return EXIT_OK
        lines = reading.result()
        others = [name for name in app.adapters if name != "console"]
        if others:
            log.info("console input ended; still serving %s", ", ".join(others))
            await stopping
        elif lines == 0:
            print(
                "error: the console is the only platform enabled and standard input is "
                "closed, so there is nothing to serve; enable platforms.discord or "
                "platforms.matrix in the config (and set platforms.console.enabled: "
                "false to run as a service)",
                file=sys.stderr,
            )
            return EXIT_NOTHING_TO_SERVE
        return EXIT_OK
    finally:
        reading.cancel()


def cmd_rounds(config: Config, args: argparse.Namespace) -> int:
    from bot.db import Database
    from bot.engine import Engine

    db = Database(config.resolved_database_url())
    try:
        db.migrate()
        engine = Engine(
            config,
            db,
            config.load_packs(),
            config.load_secret(),
        )
        rounds = db.read_sync(lambda conn: engine.list_rounds_sync(conn, args.debate))
    finally:
        db.close()
    if args.json:
        print(json.dumps([r.to_json() for r in rounds], ensure_ascii=False, indent=2))
        return EXIT_OK
    if not rounds:
        print("no rounds")
        return EXIT_OK
    tz = config.tz
    for r in rounds:
        opens, closes = (_local(moment, tz) for moment in (r.opens_at, r.closes_at))
        question = r.question if len(r.question) <= 60 else r.question[:59].rstrip() + "…"
        print(
            f"{r.id:>4} {r.code} {r.state:<10} {r.debate_id:<24} "
            f"{opens:%Y-%m-%d %H:%M} → {closes:%Y-%m-%d %H:%M} {config.timezone}  "
            f"{r.participants:>4} participant(s) ({r.positions} with a stance, "
            f"{r.voters} voted)  {question}"
        )
    sys.stdout.flush()  # a closed pipe shows here, inside main's handler
    return EXIT_OK


def _local(moment: datetime, tz: tzinfo) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(tz)


def cmd_export(config: Config, args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from bot.db import Database
    from bot.engine import load_summary
    from bot.models import RoundState, table
    from bot.summary.export import export_rounds
    from bot.summary.model import Summary

    db = Database(config.resolved_database_url())
    try:
        db.migrate()

        def read(conn: sa.Connection) -> list[Summary]:
            r = table("round")
            query = sa.select(r.c.id).where(r.c.state == RoundState.SUMMARISED.value)
            if args.round:
                key = str(args.round)
                query = query.where(
                    r.c.id == int(key) if key.isdigit() else r.c.code == key.upper()
                )
            else:
                query = query.where(r.c.debate_id == args.debate)
            out = []
            for round_id in conn.execute(query.order_by(r.c.opens_at, r.c.id)).scalars():
                summary = load_summary(conn, round_id)
                if summary is not None:
                    out.append(summary)
            return out

        summaries = db.read_sync(read)
    finally:
        db.close()
    if not summaries:
        what = f"round {args.round}" if args.round else f"debate {args.debate}"
        print(
            f"no summarised round for {what} (a round is summarised once closed)", file=sys.stderr
        )
        return EXIT_ERROR
    data = export_rounds(summaries, args.format)
    if args.output:
        write_private(args.output, data)
        print(f"wrote {args.output} ({len(summaries)} round(s))", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return EXIT_OK


def cmd_purge(config: Config, args: argparse.Namespace) -> int:
    try:
        age: timedelta = parse_age(args.older_than)
    except ValueError as exc:
        print(f"--older-than: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(_purge(config, age, dry_run=not args.yes))


async def _purge(config: Config, age: timedelta, dry_run: bool) -> int:
    from bot.db import Database
    from bot.engine import Engine, utcnow

    db = Database(config.resolved_database_url())
    try:
        await asyncio.to_thread(db.migrate)
        engine = Engine(
            config,
            db,
            config.load_packs(),
            config.load_secret(),
        )
        count = await engine.purge(age, dry_run=dry_run)
        await engine.stop()
    finally:
        db.close()
    verb = "would delete" if dry_run else "deleted"
    hint = " (add --yes to delete them)" if dry_run else ""
    print(f"{verb} {count} round(s) closed before {utcnow() - age:%Y-%m-%d %H:%M} UTC{hint}")
    return EXIT_OK


def cmd_backup(config: Config, output: Path) -> int:
    """A consistent copy of the database, safe to take while the bot runs.

    It holds no server secret and no Matrix store. It does hold the salts of rounds open at the
    time: with the secret, such a backup can tell which account gave which answer in those
    rounds, so it must be kept where the secret is not (see the README, "Backups").
    """
    from bot.backup import backup_database

    url = config.resolved_database_url()
    if not url.startswith("sqlite"):
        print(
            "This database is PostgreSQL: back it up with PostgreSQL's own tools, e.g.\n"
            f"  pg_dump --format=custom --file {output} '{url}'\n"
            "The dump holds no server secret; keep it away from the secret all the same "
            "(it holds the salts of open rounds).",
        )
        return EXIT_OK
    result = backup_database(url, output)
    print(f"wrote {output} ({result.size} bytes); the server secret is not in it")
    if result.open_rounds:
        print(
            f"warning: {result.open_rounds} round(s) are open: this backup holds their salts; "
            "together with the server secret it can tell which account gave which answer in "
            "them. Keep it apart from the secret, or back up between rounds.",
            file=sys.stderr,
        )
    return EXIT_OK


# The subcommands that run on a loaded config (``run`` and ``packs`` are dispatched above).
_CONFIGURED: dict[str, Callable[[Config, argparse.Namespace], int]] = {
    "reload": lambda config, args: cmd_reload(config),
    "demo": _demo,
    "rounds": cmd_rounds,
    "export": cmd_export,
    "purge": cmd_purge,
    "backup": lambda config, args: cmd_backup(config, args.output),
    "restore": _restore,
    "migrate": _migrate,
    "invite-url": _invite_url,
}
