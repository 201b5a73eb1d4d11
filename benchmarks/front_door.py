"""Members' clicks through discord.py, one bot process: how fast they are acknowledged.

    python benchmarks/front_door.py [--bursts 1000,2000,4000] [--rates 200,400,...]
                                    [--seconds 4] [--pg URL]

A loopback Discord (the test suite's fake, ``tests/discord/fake_discord.py``) runs in its own
process and sends stance clicks to the bot over the real gateway; the bot (``App`` with the
Discord adapter, discord.py's own parser, SQLite by default) answers them over REST. Both
share this machine's cores. For each way of answering:

- ``direct``: the bot answers with the final private message in the interaction's one
  response when the write is done within ``ANSWER_BUDGET`` (the default);
- ``defer+edit``: it always defers, then edits (``ANSWER_BUDGET = 0``, the former behaviour);

it prints, for bursts of N simultaneous clicks, how many were acknowledged within 3 s
(Discord's deadline), the p50/p99 acknowledgement latency and the CPU time each process spent
per click (the bot's includes the database writes), then the highest offered rate
(clicks per second, sustained for ``--seconds``) at which p99 stays under 1 s. Latency runs
from the moment the fake sends the interaction to the moment the bot's response reaches it.
After each burst, the fake's own CPU for it: a floor under that burst's last
acknowledgement on this machine, whatever the bot does (the fake runs on one core).
Last, the engine-only figure: as many positions submitted to the engine directly, at once, so
that the cost of the front door (discord.py, HTTP, the fake) shows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "discord"))

DEADLINE = 3.0
SETTLE = 3.0  # seconds between phases, so that one's backlog does not weigh on the next
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.fake.token"


# ---------------------------------------------------------------------------------- the fake


def bench_guilds(count: int) -> tuple[Any, ...]:
    """``count`` guilds created a millisecond apart (so shards share them out evenly), each
    with one channel: the fake's guild A first, then guilds like it."""
    import fake_discord as fd

    first = fd.GUILDS[0]
    made = [first]
    for k in range(1, count):
        made.append(
            fd.GuildSpec(
                first.id + (k << 22),
                f"Guilde {k}",
                first.owner_id,
                {fd.CHANNEL_ID + 1000 * k: f"debats-{k}"},
                first.moderator_role_id,
                first.bot_role_id,
            )
        )
    return tuple(made)


def serve_fake(guild_count: int = 0) -> None:
    """Child process: the fake Discord, plus /bench routes that send clicks and time them."""
    import fake_discord
    from aiohttp import web
    from fake_discord import FakeDiscord, Member

    if guild_count:
        fake_discord.GUILDS = bench_guilds(guild_count)

    async def run() -> None:
        fake = FakeDiscord()
        fake.token = TOKEN
        sent: dict[str, float] = {}  # interaction id -> when it was sent
        tokens: dict[str, str] = {}  # interaction token -> interaction id

        async def click_all(
            members: list[Member], message: dict[str, Any], stance_id: str
        ) -> None:
            for member in members:
                payload = member._interaction(
                    3, {"custom_id": stance_id, "component_type": 2}, message=message
                )
                tokens[payload["token"]] = payload["id"]
                sent[payload["id"]] = time.monotonic()
                await fake.dispatch("INTERACTION_CREATE", payload)

        def latencies(ids: set[str]) -> dict[str, list[float]]:
            acks: dict[str, float] = {}
            finals: dict[str, float] = {}
            for call in fake.calls:
                if call.path.startswith("/interactions/") and call.path.endswith("/callback"):
                    iid = call.path.split("/")[2]
                    if iid in ids:
                        acks.setdefault(iid, call.at - sent[iid])
                        if int(call.body.get("type", 0)) == 4:
                            finals.setdefault(iid, call.at - sent[iid])
                elif call.method == "PATCH" and call.path.startswith("/webhooks/"):
                    iid = tokens.get(call.path.split("/")[3], "")
                    if iid in ids:
                        finals.setdefault(iid, call.at - sent[iid])
            return {"acks": list(acks.values()), "finals": list(finals.values())}

        async def wait_answered(ids: set[str], within: float, first: int) -> None:
            """Until every click in ``ids`` has its callback; ``fake.calls`` is read once
            from ``first`` on (so that waiting costs the fake next to nothing)."""
            deadline = time.monotonic() + within
            answered: set[str] = set()
            seen = first
            while time.monotonic() < deadline:
                calls = fake.calls
                for c in calls[seen:]:
                    if c.path.endswith("/callback") and c.path.split("/")[2] in ids:
                        answered.add(c.path.split("/")[2])
                seen = len(calls)
                if len(answered) >= len(ids):
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # the edits after the defers

        async def announcement(request: web.Request) -> web.Response:
            channel = request.query.get("channel")
            found = [
                m
                for m in fake.messages.values()
                if m.get("embeds")
                and m.get("components")
                and (channel is None or m["channel_id"] == channel)
            ]
            return web.json_response(found[-1] if found else None)

        async def burst(request: web.Request) -> web.Response:
            body = await request.json()
            n = int(body["n"])
            # Several guilds: members spread over them, each clicking its guild's announcement.
            targets: list[tuple[int, dict[str, Any]]] = body.get("targets") or [
                (fake_discord.GUILDS[0].id, body["message"])
            ]
            before = set(sent)
            first = len(fake.calls)
            cpu = time.process_time()
            for k in range(n):
                guild, message = targets[k % len(targets)]
                member = Member(fake, f"m{k}", guild_id=int(guild))
                await click_all([member], message, body["custom_id"])
            ids = set(sent) - before
            await wait_answered(ids, 15.0, first)
            cpu = time.process_time() - cpu
            return web.json_response({"sent": len(ids), "cpu": cpu, **latencies(ids)})

        async def paced(request: web.Request) -> web.Response:
            body = await request.json()
            rate, seconds = float(body["rate"]), float(body["seconds"])
            total = int(rate * seconds)
            members = [Member(fake, f"p{k}") for k in range(total)]
            before = set(sent)
            first = len(fake.calls)
            start = time.monotonic()
            for k, member in enumerate(members):
                delay = start + k / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                await click_all([member], body["message"], body["custom_id"])
            offered = total / max(time.monotonic() - start, 1e-9)
            ids = set(sent) - before
            await wait_answered(ids, 15.0, first)
            return web.json_response({"sent": len(ids), "offered": offered, **latencies(ids)})

        async def ready(request: web.Request) -> web.Response:
            return web.json_response(len(fake.identifies) if fake.ready.is_set() else 0)

        router = fake.server.app.router
        router.add_get("/bench/announcement", announcement)
        router.add_get("/bench/ready", ready)
        router.add_post("/bench/burst", burst)
        router.add_post("/bench/paced", paced)
        await fake.start()
        print(json.dumps({"port": fake.server.port}), flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


# ---------------------------------------------------------------------------------- the bot


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench(args: argparse.Namespace) -> None:
    import aiohttp
    import discord.gateway
    import discord.http
    import yarl
    from discord_support import TOKEN_ENV, discord_config

    import bot.adapters.discord as discord_adapter
    from bot.adapters.discord import DiscordAdapter
    from bot.app import App
    from bot.config import Config

    fake = subprocess.Popen(  # noqa: ASYNC220 (once, before anything is measured)
        [sys.executable, __file__, "--serve-fake"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert fake.stdout is not None
        port = json.loads(fake.stdout.readline())["port"]
        base = f"http://127.0.0.1:{port}"
        discord.http.Route.BASE = f"{base}/api/v10"
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(
            f"ws://127.0.0.1:{port}/gateway"
        )
        os.environ[TOKEN_ENV] = TOKEN
        budget = discord_adapter.ANSWER_BUDGET if args.budget is None else args.budget
        async with aiohttp.ClientSession() as http:
            for mode, mode_budget in (("direct", budget), ("defer+edit", 0.0)):
                discord_adapter.ANSWER_BUDGET = mode_budget
                with tempfile.TemporaryDirectory() as data:
                    overrides: dict[str, Any] = {"limits": {"actions_per_minute": 1000}}
                    if args.pg:
                        overrides["database_url"] = args.pg
                    config: Config = discord_config(Path(data), **overrides)
                    app = App(config, adapters={"discord": DiscordAdapter}, tick_seconds=3600)
                    await app.start()
                    try:
                        await run_mode(
                            http, base, app, f"{mode}, ANSWER_BUDGET {mode_budget} s", args
                        )
                        await asyncio.sleep(SETTLE)  # the last clicks answered before stopping
                    finally:
                        await app.stop()
    finally:
        fake.terminate()
        fake.wait()


async def run_mode(http: Any, base: str, app: Any, mode: str, args: argparse.Namespace) -> None:
    await wait_ready(http, base, 1)
    info = await app.engine.open_round(app.config.debates[0].id)
    message = None
    for _ in range(200):
        async with http.get(f"{base}/bench/announcement") as response:
            message = await response.json()
        if message is not None:
            break
        await asyncio.sleep(0.05)
    assert message is not None, "no announcement"
    custom_id = f"debat:stance:{info.id}:profit"
    print(f"\n== {mode}")
    for n in args.bursts:
        await asyncio.sleep(SETTLE)
        cpu = time.process_time()
        async with http.post(
            f"{base}/bench/burst", json={"n": n, "message": message, "custom_id": custom_id}
        ) as response:
            result = await response.json()
        cpu = time.process_time() - cpu
        acks = result["acks"]
        within = sum(1 for a in acks if a <= DEADLINE)
        print(
            f"burst {n:>5}: acknowledged within 3 s {within:>5}/{n}"
            f"  ack p50 {percentile(acks, 0.5):.3f} s  p99 {percentile(acks, 0.99):.3f} s"
            f"  answer p99 {percentile(result['finals'], 0.99):.3f} s"
            f"  CPU per click: bot {1000 * cpu / n:.2f} ms, fake {1000 * result['cpu'] / n:.2f} ms"
        )
        print(fake_floor(n, result["cpu"]))
    best = 0.0
    for rate in args.rates:
        await asyncio.sleep(SETTLE)  # the last phase's answers and posts are done
        async with http.post(
            f"{base}/bench/paced",
            json={
                "rate": rate,
                "seconds": args.seconds,
                "message": message,
                "custom_id": custom_id,
            },
        ) as response:
            result = await response.json()
        acks = result["acks"]
        p99 = percentile(acks, 0.99)
        ok = len(acks) == result["sent"] and p99 < 1.0
        print(
            f"paced {rate:>6.0f}/s (offered {result['offered']:.0f}/s, {result['sent']} clicks):"
            f" ack p50 {percentile(acks, 0.5):.3f} s  p99 {p99:.3f} s"
            f"  unanswered {result['sent'] - len(acks)}{'' if ok else '  <- p99 over 1 s'}"
        )
        if ok:
            best = max(best, result["offered"])
        else:
            break
    print(f"sustained rate with p99 under 1 s: {best:.0f} clicks/s")
    print(f"positions recorded: {await app.engine.participation(info.id)}")
    # The same writes without the front door: the engine called directly, all at once.
    n = max(args.bursts, default=1000)
    await asyncio.sleep(SETTLE)
    started = time.perf_counter()
    await asyncio.gather(
        *(app.engine.submit_position(info.id, "bench", f"e{k}", "profit") for k in range(n))
    )
    elapsed = time.perf_counter() - started
    print(f"engine only: {n} positions acknowledged in {elapsed:.3f} s, {n / elapsed:,.0f}/s")


async def wait_ready(http: Any, base: str, shards: int) -> None:
    for _ in range(600):
        async with http.get(f"{base}/bench/ready") as response:
            if await response.json() >= shards:
                return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"the bot did not connect its {shards} shard(s)")


# ---------------------------------------------------------------------------------- processes

GUILD_COUNT = 6  # shared out evenly by 1, 2 and 3 shards


def bot_process(args: argparse.Namespace) -> None:
    """Child process: ``debate-bot run``'s App on this config, pointed at the fake."""
    import signal

    import discord.gateway
    import discord.http
    import yarl

    from bot.app import App
    from bot.config import load_config

    base = f"http://127.0.0.1:{args.port}"
    discord.http.Route.BASE = f"{base}/api/v10"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(
        f"ws://127.0.0.1:{args.port}/gateway"
    )

    async def run() -> None:
        app = App(load_config(Path(args.bot_process)), tick_seconds=3600)
        await app.start()
        if args.open_round:
            await app.engine.open_round(app.config.debates[0].id)
        print("ready", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await app.stop()

    asyncio.run(run())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_process_config(directory: Path, k: int, count: int, url: str, guilds: Any) -> Path:
    import yaml
    from discord_support import TOKEN_ENV
    from fake_discord import MODERATOR_ROLE_ID

    data_dir = directory / f"bot-{k}"
    config = {
        "data_dir": str(data_dir),
        "database_url": url,
        "log_level": "WARNING",
        # The default lease (15 s): a 2 s one lapsed during the bursts (the event loop busy
        # with thousands of clicks renews it late), and leadership moved under load.
        "limits": {"actions_per_minute": 1000},
        "platforms": {
            "console": {"enabled": False},
            "discord": {
                "enabled": True,
                "token_env": TOKEN_ENV,
                "guild_ids": [g.id for g in guilds],
                "moderator_role_ids": [MODERATOR_ROLE_ID],
                "shard_count": count,
            },
        },
        "debates": [
            {
                "id": "capitalisme-numerique",
                "title": "Le capitalisme numérique",
                "pack": "progressive-alliance-2018",
                "questions": ["technologie-pour-qui-1"],
                "schedule": {"manual": True},
                "round_duration": "2d",
                "channels": [
                    {"platform": "discord", "channel_id": next(iter(g.channels))} for g in guilds
                ],
            }
        ],
    }
    path = directory / f"config-{k}.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


async def processes_bench(args: argparse.Namespace) -> None:
    """1, 2, 3… processes on one PostgreSQL, each holding one shard."""
    import aiohttp
    import psycopg
    from discord_support import TOKEN_ENV

    admin = args.pg.replace("postgresql+psycopg", "postgresql")
    for count in args.processes:
        name = f"debatebot_bench_{os.getpid()}_{count}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = args.pg.rsplit("/", 1)[0] + f"/{name}"
        procs: list[subprocess.Popen[str]] = []
        fake = subprocess.Popen(  # noqa: ASYNC220 (before anything is measured)
            [sys.executable, __file__, "--serve-fake", "--guilds", str(GUILD_COUNT)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert fake.stdout is not None
            port = json.loads(fake.stdout.readline())["port"]
            base = f"http://127.0.0.1:{port}"
            with tempfile.TemporaryDirectory() as tmp:
                sys.path.insert(0, str(ROOT / "tests" / "discord"))
                guilds = bench_guilds(GUILD_COUNT)
                env = {**os.environ, TOKEN_ENV: TOKEN, "DEBATE_BOT_SECRET": "bench-" + "s" * 32}
                for k in range(count):
                    config = write_process_config(Path(tmp), k, count, url, guilds)
                    command = [sys.executable, __file__, "--bot-process", str(config)]
                    command += ["--port", str(port)] + (["--open-round"] if k == 0 else [])
                    proc = subprocess.Popen(  # noqa: ASYNC220
                        command,
                        stdout=subprocess.PIPE,
                        text=True,
                        env={**env, "DEBATE_BOT_DISCORD_SHARD_IDS": str(k)},
                    )
                    procs.append(proc)
                    assert proc.stdout is not None
                    assert proc.stdout.readline().strip() == "ready", "a bot did not start"
                async with aiohttp.ClientSession() as http:
                    await wait_ready(http, base, count)
                    await run_processes(http, base, procs, guilds, count, args)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=60)
            fake.terminate()
            fake.wait()
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def run_processes(
    http: Any,
    base: str,
    procs: list[subprocess.Popen[str]],
    guilds: Any,
    count: int,
    args: argparse.Namespace,
) -> None:
    targets: list[tuple[int, dict[str, Any]]] = []
    for guild in guilds:
        channel = str(next(iter(guild.channels)))
        for _ in range(400):
            async with http.get(f"{base}/bench/announcement", params={"channel": channel}) as r:
                message = await r.json()
            if message is not None:
                break
            await asyncio.sleep(0.05)
        assert message is not None, f"no announcement in {channel}"
        targets.append((guild.id, message))
    custom_id = next(
        c["custom_id"]
        for row in targets[0][1]["components"]
        for c in row["components"]
        if c["custom_id"].endswith(":profit")
    )
    print(f"\n== {count} process(es) on PostgreSQL, one shard each, {len(guilds)} servers")
    for n in args.bursts:
        await asyncio.sleep(SETTLE)
        cpu = [cpu_seconds(p.pid) for p in procs]
        async with http.post(
            f"{base}/bench/burst", json={"n": n, "targets": targets, "custom_id": custom_id}
        ) as response:
            result = await response.json()
        cpu = [cpu_seconds(p.pid) - c for p, c in zip(procs, cpu, strict=True)]
        acks = result["acks"]
        within = sum(1 for a in acks if a <= DEADLINE)
        rate = len(acks) / max(max(acks, default=0.0), 1e-9)
        print(
            f"burst {n:>5}: acknowledged within 3 s {within:>5}/{n}"
            f"  ack p50 {percentile(acks, 0.5):.3f} s  p99 {percentile(acks, 0.99):.3f} s"
            f"  {rate:,.0f} acknowledged positions/s"
            f"  CPU per click: bots {1000 * sum(cpu) / n:.2f} ms,"
            f" fake {1000 * result['cpu'] / n:.2f} ms"
        )
        print(fake_floor(n, result["cpu"]))


def fake_floor(n: int, fake_cpu: float) -> str:
    """What the fake alone costs: its CPU for the burst is a floor under the burst's last
    acknowledgement (it sends every click and reads every answer, on one core), and one over
    its CPU per click is the most clicks per second it can offer and time."""
    per_click = fake_cpu / max(n, 1)
    return (
        f"             the fake alone: {fake_cpu:.2f} s of CPU for these {n} clicks, so the"
        f" last one cannot be acknowledged sooner; at most {1 / max(per_click, 1e-9):,.0f}"
        " clicks/s offered on one core"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--guilds", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--bot-process", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--open-round", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--processes",
        default="",
        help="e.g. 1,2,3: that many bot processes on PostgreSQL (--pg), one shard each",
    )
    parser.add_argument("--bursts", default="1000,2000,4000")
    parser.add_argument("--rates", default="200,400,600,800,1000,1200,1600")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--pg", default=None, help="a PostgreSQL URL (default: SQLite)")
    parser.add_argument(
        "--budget", type=float, default=None, help="ANSWER_BUDGET to measure (default: the bot's)"
    )
    args = parser.parse_args()
    if args.serve_fake:
        serve_fake(args.guilds)
        return
    if args.bot_process:
        bot_process(args)
        return
    args.bursts = [int(x) for x in args.bursts.split(",") if x]
    args.rates = [float(x) for x in args.rates.split(",") if x]
    args.processes = [int(x) for x in args.processes.split(",") if x]
    if args.processes:
        args.pg = args.pg or PG_ADMIN
        asyncio.run(processes_bench(args))
    else:
        asyncio.run(bench(args))


if __name__ == "__main__":
    main()
