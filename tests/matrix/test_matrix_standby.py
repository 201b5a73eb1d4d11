"""Matrix across processes: only the leader syncs; a follower takes the same device over.

Real ``debate-bot run`` processes on one PostgreSQL database, with Matrix enabled in each and
one shared ``platforms.matrix.store_dir``; a real Synapse, and a member on matrix-nio with
encryption. The leader is killed with SIGKILL, then the next one is paused with SIGSTOP, then
its successor killed: every command gets exactly one answer, from the one device, and the
paused leader's successor waits for the device instead of using it at the same time.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from config_support import UNSET_SECRET_ENV
from conftest import PASSWORD_ENV, Users, make_room
from matrix_members import Member, has

pytestmark = pytest.mark.synapse

ROOT = Path(__file__).resolve().parents[2]
LEASE = 2


class BotProcess:
    def __init__(self, workdir: Path, name: str, config: Path, env: dict[str, str]) -> None:
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--config", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=env,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self._log.close()


def write_config(directory: Path, *, pg_url: str, synapse_url: str, bot: str, room: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    shared = directory.parent
    path = directory / "config.yaml"
    path.write_text(
        f"""
language: fr
data_dir: {directory / "data"}
database_url: {pg_url}
leader_lease: {LEASE}s
log_level: INFO
anonymity: {{secret_env: {UNSET_SECRET_ENV}, secret_file: {shared / "server-secret"}}}
platforms:
  console: {{enabled: false}}
  matrix:
    enabled: true
    homeserver: {synapse_url}
    user_id: "{bot}"
    access_token_env: null
    password_env: {PASSWORD_ENV}
    allowed_rooms: ["{room}"]
    store_dir: {shared / "matrix-store"}
debates:
  - id: plateformes
    title: Plateformes
    pack: progressive-alliance-2018
    questions: [plateformes-1]
    schedule: {{manual: true}}
    round_duration: 1h
    channels:
      - {{platform: matrix, room_id: "{room}"}}
""",
        encoding="utf-8",
    )
    return path


def leader_pid(pg_url: str) -> int | None:
    try:
        with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT holder FROM leader_lease WHERE expires_at > now()"
            ).fetchall()
    except psycopg.Error:
        return None
    return int(rows[0][0].rsplit(":", 1)[1]) if rows else None


async def wait_leader(pg_url: str, among: list[BotProcess], other_than: int | None = None) -> int:
    pids = {p.pid for p in among}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pid = await asyncio.to_thread(leader_pid, pg_url)
        if pid is not None and pid in pids and pid != other_than:
            return pid
        await asyncio.sleep(0.1)
    raise AssertionError("no leader among the processes within 60 s")


HELP = "Participer au débat"  # in the answer to !aide


def helps(member: Member, room_id: str, bot: str) -> int:
    """How many answers to ``!aide`` the member has seen in ``room_id``."""
    return sum(1 for s in member.messages(room_id, bot) if HELP in s.body)


async def test_a_follower_takes_the_matrix_device_over(
    tmp_path: Path, pg_url: str, users: Users, members: dict[str, Member], synapse_url: str
) -> None:
    mod, alice = members["mod"], members["alice"]
    bot = users.ids["bot"]
    room_id, _alias = await make_room(mod, [bot, alice.user_id])
    env = {**os.environ, PASSWORD_ENV: users.passwords["bot"], "PYTHONUNBUFFERED": "1"}
    procs: list[BotProcess] = []

    def spawn() -> BotProcess:
        name = f"p{len(procs)}"
        config = write_config(
            tmp_path / name, pg_url=pg_url, synapse_url=synapse_url, bot=bot, room=room_id
        )
        made = BotProcess(tmp_path, name, config, env)
        procs.append(made)
        return made

    async def ask_help() -> None:
        mark = len(alice.seen)
        await alice.send(dm, "!aide")
        await alice.wait_message(has(HELP), dm, bot, after=mark, timeout=60)

    before = await users_devices(synapse_url, bot, users.passwords["bot"])
    try:
        first = spawn()
        assert await wait_leader(pg_url, procs) == first.pid
        await mod.wait_joined(room_id, bot, timeout=60)
        second = spawn()
        dm = await alice.create_dm(bot, encrypted=True)
        await alice.wait_joined(dm, bot, timeout=60)
        await ask_help()
        # The follower runs no Matrix client: one answer only, and its log says it stands by.
        await asyncio.sleep(2 * LEASE)
        assert helps(alice, dm, bot) == 1
        assert "runs in the leading process only" in second.log()

        # The leader dies: the follower takes the lease, then the device (the store's lock
        # went with the dead process), and answers from the same device.
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(timeout=30)
        killed_at = time.monotonic()
        assert await wait_leader(pg_url, procs, other_than=first.pid) == second.pid
        await ask_help()
        took = time.monotonic() - killed_at
        print(f"\nkilled leader to the first Matrix answer from its successor: {took:.1f} s")
        assert took < LEASE + 30, took
        assert "runs in this process now" in second.log()

        # A third process; then the leader is paused past its lease. The next leader takes the
        # lease but not the device, which the paused one still holds: it waits for it.
        third = spawn()
        await asyncio.sleep(LEASE)
        second.proc.send_signal(signal.SIGSTOP)
        assert await wait_leader(pg_url, procs, other_than=second.pid) == third.pid
        await asyncio.sleep(2 * LEASE)
        assert "waits for the previous leader to let go" in third.log()
        mark = len(alice.seen)
        await alice.send(dm, "!aide")
        await asyncio.sleep(LEASE)
        # Resumed, the old leader finds its lease gone and lets the device go; the new leader
        # takes it over and the command sent meanwhile is answered once, by one of them.
        second.proc.send_signal(signal.SIGCONT)
        await alice.wait_message(has(HELP), dm, bot, after=mark, timeout=60)
        await ask_help()
        await asyncio.sleep(2 * LEASE)
        assert "stands by (another process leads)" in second.log()
        assert "runs in this process now" in third.log()
        assert helps(alice, dm, bot) == 4, "a command answered twice, or not at all"

        # The new leader dies too: the old one, a follower now, takes the device back (its
        # Matrix adapter starts a second time in the same process).
        third.proc.send_signal(signal.SIGKILL)
        third.proc.wait(timeout=30)
        assert await wait_leader(pg_url, procs, other_than=third.pid) == second.pid
        await ask_help()
        assert second.log().count("runs in this process now") == 2
        assert helps(alice, dm, bot) == 5
    finally:
        for made in procs:
            made.stop()

    # One device throughout: the bot's account gained exactly the device the first process
    # made, which the others took over from the shared store.
    after = await users_devices(synapse_url, bot, users.passwords["bot"])
    assert len(set(after) - set(before)) == 1, (before, after)


async def users_devices(synapse_url: str, user_id: str, password: str) -> list[str]:
    import nio

    client = nio.AsyncClient(synapse_url, user_id)
    try:
        login = await client.login(password, device_name="devices-check")
        assert isinstance(login, nio.LoginResponse), login
        response = await client.devices()
        assert isinstance(response, nio.DevicesResponse), response
        return [d.id for d in response.devices if d.id != login.device_id]
    finally:
        await client.logout()
        await client.close()


@pytest.fixture
def synapse_url(synapse: object) -> str:
    return str(synapse.url)  # type: ignore[attr-defined]
