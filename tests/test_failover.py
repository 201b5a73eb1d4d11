"""Failover drills on PostgreSQL: three ``debate-bot run`` processes, the leader killed or paused.

``FAILOVER_KILLS`` (default 10) sets how many times the leader is killed with SIGKILL: at a
random moment, as it prints a post (between the claim and the mark) or as a round closes, in
turn; a replacement process starts after each kill. ``benchmarks/failover.py`` runs the same
drill a hundred times over and prints the figures. See ``failover_support`` for what is
checked and how.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from failover_support import KEY, Drill

MODES = ("post", "close", "random")


def test_killing_the_leader_again_and_again(tmp_path: Path, pg_url: str) -> None:
    kills = int(os.environ.get("FAILOVER_KILLS", "10"))
    drill = Drill(tmp_path, pg_url)
    try:
        drill.wait_leader()
        drill.start_feeding()
        for index in range(kills):
            drill.kill_leader(MODES[index % len(MODES)])
        time.sleep(drill.lease)
        report = drill.finish()
    finally:
        for proc in drill.procs:
            proc.terminate()
    print("\n".join(report.lines()))
    assert report.kills == kills
    assert report.max_failover <= drill.lease + 3, report.failovers
    assert report.rounds >= 2
    assert report.double_transitions == 0, report.problems
    assert report.double_posts == 0, report.problems
    assert report.lost_posts == 0, report.problems
    assert report.acknowledged > 0
    assert report.lost_acks == 0, report.problems
    assert report.unanswered == 0, report.problems


def test_a_paused_leader_does_not_act_when_it_resumes(tmp_path: Path, pg_url: str) -> None:
    drill = Drill(tmp_path, pg_url)
    try:
        drill.wait_leader()
        drill.start_feeding()
        paused, resumed_at = drill.pause_leader()
        time.sleep(3 * drill.lease)
        # It follows now: another process holds the lease, and it still answers members.
        assert drill.leader_pid() != paused.pid
        assert paused.say("@late dm !position abstention")
        time.sleep(2)
        report = drill.finish()
    finally:
        for proc in drill.procs:
            proc.terminate()
    print("\n".join(report.lines()))
    # What it printed from its resumption until it leads again, if it does (the lease given
    # up by the processes finish() stops before it is rightly its to take).
    until = paused.led_since(resumed_at)
    after = [line for moment, line in paused.lines if resumed_at <= moment < until]
    posts = [line for line in after if line.startswith("[general] ") or KEY.match(line)]
    assert posts == [], after
    answered = [line for moment, line in paused.lines if moment >= resumed_at]
    assert any(line.startswith("[dm:late] ") for line in answered), answered
    log = paused.log_path.read_text(encoding="utf-8")
    assert "is over" in log and "following" in log, log
    assert report.acted_after_pause == 0, report.problems
    assert report.double_transitions == 0, report.problems
    assert report.double_posts == 0, report.problems
    assert report.lost_acks == 0, report.problems
    assert report.unanswered == 0, report.problems
