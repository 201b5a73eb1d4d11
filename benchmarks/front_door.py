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
TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.fake.token"


# ---------------------------------------------------------------------------------- the fake


def serve_fake() -> None:
    """Child process: the fake Discord, plus /bench routes that send clicks and time them."""
    from aiohttp import web
    from fake_discord import FakeDiscord, Member

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

        async def wait_answered(ids: set[str], within: float) -> None:
            deadline = time.monotonic() + within
            while time.monotonic() < deadline:
                answered = sum(
                    1
                    for c in fake.calls[-4 * len(ids) :]
                    if c.path.endswith("/callback") and c.path.split("/")[2] in ids
                )
                if answered >= len(ids):
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # the edits after the defers

        async def announcement(request: web.Request) -> web.Response:
            found = [m for m in fake.messages.values() if m.get("embeds") and m.get("components")]
            return web.json_response(found[-1] if found else None)

        async def burst(request: web.Request) -> web.Response:
            body = await request.json()
            members = [Member(fake, f"m{k}") for k in range(int(body["n"]))]
            before = set(sent)
            cpu = time.process_time()
            await click_all(members, body["message"], body["custom_id"])
            ids = set(sent) - before
            await wait_answered(ids, 15.0)
            cpu = time.process_time() - cpu
            return web.json_response({"sent": len(ids), "cpu": cpu, **latencies(ids)})

        async def paced(request: web.Request) -> web.Response:
            body = await request.json()
            rate, seconds = float(body["rate"]), float(body["seconds"])
            total = int(rate * seconds)
            members = [Member(fake, f"p{k}") for k in range(total)]
            before = set(sent)
            start = time.monotonic()
            for k, member in enumerate(members):
                delay = start + k / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                await click_all([member], body["message"], body["custom_id"])
            offered = total / max(time.monotonic() - start, 1e-9)
            ids = set(sent) - before
            await wait_answered(ids, 15.0)
            return web.json_response({"sent": len(ids), "offered": offered, **latencies(ids)})

        async def ready(request: web.Request) -> web.Response:
            return web.json_response(fake.ready.is_set())

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
        budget = discord_adapter.ANSWER_BUDGET
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
                    finally:
                        await app.stop()
    finally:
        fake.terminate()
        fake.wait()


async def run_mode(http: Any, base: str, app: Any, mode: str, args: argparse.Namespace) -> None:
    for _ in range(200):
        async with http.get(f"{base}/bench/ready") as response:
            if await response.json():
                break
        await asyncio.sleep(0.05)
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
    best = 0.0
    for rate in args.rates:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bursts", default="1000,2000,4000")
    parser.add_argument("--rates", default="200,400,600,800,1000,1200,1600")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--pg", default=None, help="a PostgreSQL URL (default: SQLite)")
    args = parser.parse_args()
    if args.serve_fake:
        serve_fake()
        return
    args.bursts = [int(x) for x in args.bursts.split(",") if x]
    args.rates = [float(x) for x in args.rates.split(",") if x]
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
