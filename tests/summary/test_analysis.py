"""Unit tests of the Polis-style opinion-group analysis on synthetic votes."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, silhouette_score

from bot.summary import analysis as A
from bot.summary.analysis import EVERY_POLL, ReplayBatching, Vote, analyze, replay
from bot.summary.analyze_cli import run as run_cli
from bot.summary.polis_io import (
    load_polis_comments,
    load_polis_group_count,
    load_polis_groups,
    load_polis_votes,
)

N_STATEMENTS = 24


def planted(
    per_camp: int = 30, seed: int = 1, miss: float = 0.15, noise: float = 0.1
) -> tuple[list[Vote], dict[str, int]]:
    """Two camps: statements 0-9 camp A agrees and camp B disagrees, 10-19 the reverse,
    20-23 both agree (consensus). Votes arrive participant by participant, one per second."""
    rng = random.Random(seed)
    votes: list[Vote] = []
    camp: dict[str, int] = {}
    t = 1_600_000_000.0
    for i in range(2 * per_camp):
        who = f"p{i:03d}"
        side = i % 2
        camp[who] = side
        for s in range(N_STATEMENTS):
            if rng.random() < miss:
                continue
            consensus_or_own_side = s >= 20 or (s < 10) == (side == 0)
            value = 1 if consensus_or_own_side else -1
            if rng.random() < noise:
                value = rng.choice([-1, 0, 1])
            t += 1.0
            votes.append(Vote(who, f"s{s}", value, t))
    return votes, camp


def ari(result: A.AnalysisResult, truth: dict[str, int]) -> float:
    common = [p for p in result.assignments if p in truth]
    return float(
        adjusted_rand_score([truth[p] for p in common], [result.assignments[p] for p in common])
    )


def test_two_planted_camps_are_recovered() -> None:
    votes, camp = planted()
    for result in (analyze(votes), replay(votes)):
        assert len(result.groups) == 2
        assert ari(result, camp) == pytest.approx(1.0)
        assert result.participants == 60
        assert result.participants_clustered == 60
        assert result.statements == N_STATEMENTS
        assert sum(g.size for g in result.groups) == 60
        assert set(result.coords) == set(camp)
        assert all(len(g.representative) >= 1 for g in result.groups)


def test_repness_directions_follow_the_camps() -> None:
    votes, camp = planted()
    result = analyze(votes)
    for group in result.groups:
        side = camp[group.members[0]]
        for rep in group.representative:
            number = int(rep.statement[1:])
            if number >= 20:
                continue
            camp_a_statement = number < 10
            agrees = camp_a_statement == (side == 0)
            assert rep.direction == ("agree" if agrees else "disagree"), rep
            assert rep.repness_test > A.Z_90
            assert rep.seen >= rep.agree + rep.disagree
    # Consensus statements are the ones both camps agree with.
    assert set(result.consensus["agree"]) <= {"s20", "s21", "s22", "s23"}
    assert result.consensus["agree"]
    gac = result.group_aware_consensus
    assert min(gac[f"s{i}"] for i in range(20, 24)) > max(gac[f"s{i}"] for i in range(20))
    assert set(result.divisive) <= {f"s{i}" for i in range(20)}
    assert result.divisive


def test_moderated_out_statements_are_ignored() -> None:
    votes, _ = planted()
    result = analyze(votes, moderated_out={"s3", "s21"})
    listed = {r.statement for g in result.groups for r in g.representative}
    listed |= set(result.consensus["agree"]) | set(result.consensus["disagree"])
    listed |= set(result.group_aware_consensus) | set(result.divisive)
    assert not listed & {"s3", "s21"}
    assert result.statements == N_STATEMENTS - 2
    # The map does not depend on how people voted on a moderated-out statement.
    flipped = [
        Vote(v.participant, v.statement, -v.value, v.timestamp) if v.statement == "s3" else v
        for v in votes
    ]
    other = analyze(flipped, moderated_out={"s3", "s21"})
    assert other.coords == result.coords
    assert other.assignments == result.assignments


def test_deterministic_and_input_order_independent() -> None:
    votes, _ = planted()
    first = analyze(votes, seed=7).to_json()
    assert analyze(votes, seed=7).to_json() == first
    shuffled = votes[:]
    random.Random(3).shuffle(shuffled)
    assert analyze(shuffled, seed=7).to_json() == first
    assert replay(shuffled).to_json() == replay(votes).to_json()


def test_latest_vote_wins() -> None:
    votes, _ = planted(per_camp=10)
    changed = [Vote(v.participant, v.statement, -v.value, v.timestamp - 0.5) for v in votes[::3]]
    result = analyze(changed + votes)
    assert result.votes == len(votes)
    assert result.to_json() == analyze(votes).to_json()
    # Equal timestamps: the later vote in the input wins.
    tied = [Vote(v.participant, v.statement, -v.value, v.timestamp) for v in votes[::3]]
    assert analyze(tied + votes).to_json() == analyze(votes).to_json()


@pytest.mark.parametrize(
    "votes",
    [
        [],
        [Vote("solo", "s1", 1), Vote("solo", "s2", -1), Vote("solo", "s3", 0)],
        [Vote(f"p{i}", "only", (-1, 0, 1)[i % 3]) for i in range(30)],
        [Vote(f"p{i}", f"s{s}", 1) for i in range(20) for s in range(8)],
        [Vote("a", "s1", 1), Vote("a", "s2", -1), Vote("b", "s1", -1), Vote("b", "s2", 1)],
        [Vote("a", "s1", 0), Vote("b", "s1", 0)],
    ],
    ids=["no-votes", "one-participant", "one-statement", "identical", "two-people", "passes"],
)
def test_degenerate_inputs_give_at_most_one_group(votes: list[Vote]) -> None:
    for result in (analyze(votes), replay(votes)):
        assert len(result.groups) <= 1
        assert result.participants == len({v.participant for v in votes})
        json.dumps(result.to_json())
        if votes:
            assert len(result.groups) == 1
            assert result.groups[0].size == result.participants_clustered
            assert set(result.assignments.values()) == {0}


def test_fewer_participants_than_groups() -> None:
    votes = [Vote(p, f"s{s}", v) for p, v in (("a", 1), ("b", -1)) for s in range(10)]
    assert len(analyze(votes).groups) == 1


def test_invalid_vote_value_is_rejected() -> None:
    with pytest.raises(ValueError, match="-1, 0 or 1"):
        analyze([Vote("a", "s", 2)])


def test_to_json_shape() -> None:
    votes, _ = planted(per_camp=10)
    data = analyze(votes).to_json()
    json.dumps(data)
    for key in (
        "participants",
        "participants_clustered",
        "groups",
        "assignments",
        "consensus",
        "analysis_version",
    ):
        assert key in data
    assert data["analysis_version"] == A.ANALYSIS_VERSION
    groups = data["groups"]
    assert isinstance(groups, list)
    for group in groups:
        assert {"id", "size", "representative"} <= set(group)
        assert all("statement" in r for r in group["representative"])


def test_silhouette_matches_scikit_learn() -> None:
    rng = np.random.default_rng(5)
    for _ in range(100):
        n = int(rng.integers(4, 60))
        points = rng.normal(size=(n, 2)).round(1)  # rounding makes duplicate points
        labels = rng.integers(0, int(rng.integers(2, 6)), n)
        if not 2 <= np.unique(labels).size <= n - 1:
            continue
        ours = A._silhouettes(points, {0: labels})[0]
        assert ours == pytest.approx(float(silhouette_score(points, labels)), abs=1e-9)


def test_kmeans_drops_empty_clusters_and_keeps_ids() -> None:
    x = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    init = np.array([[0.0, 0.0], [5.0, 5.0], [100.0, 100.0]])
    out = A._kmeans(x, np.array([3, 7, 9]), init, 20, None)
    assert out.ids.tolist() == [3, 7]
    assert out.labels.tolist() == [3, 3, 7, 7]


def test_replay_batching_options() -> None:
    votes, camp = planted(per_camp=12)
    every = replay(votes, batch=EVERY_POLL)
    assert every.method == "replay"
    assert every.updates > 20
    coarse = replay(votes, batch=ReplayBatching(max_updates=5))
    assert coarse.updates <= 5
    fixed = replay(votes, batch=50)
    assert fixed.updates == -(-len(votes) // 50)
    restarts = replay(votes, batch=ReplayBatching(restart_gap_seconds=0.5, max_updates=8))
    assert restarts.updates > 8  # each restart adds a recompute on load
    for result in (every, coarse, fixed, restarts):
        assert len(result.groups) == 2
        assert ari(result, camp) == pytest.approx(1.0)


def test_in_conv_is_sticky_in_replay() -> None:
    # Early participants are topped up to 15 with few votes and stay in; a late one-vote
    # participant is not clustered.
    votes: list[Vote] = []
    t = 0.0
    for i in range(3):
        t += 10
        votes.append(Vote(f"early{i}", "s0", 1, t))
    late, _ = planted(per_camp=10)
    votes += [Vote(v.participant, v.statement, v.value, v.timestamp + 1000) for v in late]
    votes.append(Vote("late", "s0", 1, late[-1].timestamp + 2000))
    result = replay(votes, time_unit=1.0)
    assert {"early0", "early1", "early2"} <= set(result.assignments)
    assert "late" not in result.assignments
    cold = analyze(votes)
    assert not {"early0", "early1", "early2", "late"} & set(cold.assignments)


# ----------------------------------------------------------------------------------------------
# Polis export reader and CLI


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_polis_io(tmp_path: Path) -> None:
    votes = write(
        tmp_path / "votes.csv",
        "timestamp,datetime,comment-id,voter-id,vote\n"
        "1000,x,0,0,1\n1000,x,1,0,-1\n2000,x,0,0,-1\n1500,x,0,0,0\n1200,x,1,1,0\n",
    )
    loaded = load_polis_votes(votes)
    assert {(v.participant, v.statement): v.value for v in loaded} == {
        ("0", "0"): -1,
        ("0", "1"): -1,
        ("1", "1"): 0,
    }
    assert len(load_polis_votes(votes, keep_history=True)) == 5
    comments = write(
        tmp_path / "comments.csv",
        "timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,comment-body\n"
        '1,x,0,0,1,0,1,"First, with a comma"\n2,x,1,0,0,0,-1,spam\n',
    )
    texts, moderated = load_polis_comments(comments)
    assert texts == {"0": "First, with a comma", "1": "spam"}
    assert moderated == {"1"}
    groups = write(
        tmp_path / "participants-votes.csv",
        "participant,group-id,n-comments,n-votes,n-agree,n-disagree,0,1\n0,1,0,2,0,2,-1,-1\n"
        "1,,0,1,0,0,,0\n",
    )
    assert load_polis_groups(groups) == {"0": 1}
    summary = write(tmp_path / "summary.csv", "topic,t\nvoters,2\ngroups,3\n")
    assert load_polis_group_count(summary) == 3
    assert load_polis_group_count(write(tmp_path / "s2.csv", "topic,t\n")) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timestamp,comment-id,voter-id\n", "missing column"),
        ("timestamp,datetime,comment-id,voter-id,vote\n1,x,0,0,2\n", "line 2: vote must be"),
        ("timestamp,datetime,comment-id,voter-id,vote\n1,x,0,0,yes\n", "line 2: vote is not"),
        ("timestamp,datetime,comment-id,voter-id,vote\nnow,x,0,0,1\n", "line 2: timestamp"),
        ("timestamp,datetime,comment-id,voter-id,vote\n1,x,,0,1\n", "line 2: empty comment-id"),
        ("timestamp,datetime,comment-id,voter-id,vote\n1,x,0,0,1,9\n", "line 2: too many"),
    ],
)
def test_polis_io_rejects_malformed_rows(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "votes.csv", text)
    with pytest.raises(ValueError, match=message) as info:
        load_polis_votes(path)
    assert "votes.csv" in str(info.value)


def test_cli_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    votes, _ = planted(per_camp=10)
    rows = ["timestamp,datetime,comment-id,voter-id,vote"]
    rows += [
        f"{int(v.timestamp * 1000)},x,{v.statement[1:]},{v.participant[1:]},{v.value}"
        for v in votes
    ]
    votes_path = write(tmp_path / "votes.csv", "\n".join(rows) + "\n")
    comment_rows = [
        "timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,comment-body"
    ]
    comment_rows += [f"1,x,{s},0,0,0,1,Statement <{s}> & more" for s in range(N_STATEMENTS)]
    comments_path = write(tmp_path / "comments.csv", "\n".join(comment_rows) + "\n")

    assert run_cli(votes_path, comments_path, "json", False, None) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["statement_texts"]["3"] == "Statement <3> & more"
    assert len(data["groups"]) == 2

    out = tmp_path / "report.md"
    assert run_cli(votes_path, comments_path, "md", True, out) == 0
    report = out.read_text(encoding="utf-8")
    assert "# Opinion groups" in report and "Group A" in report and "Statement <" in report
    assert "agree" in report and "%" in report

    html_out = tmp_path / "report.html"
    assert run_cli(votes_path, None, "html", False, html_out) == 0
    page = html_out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert run_cli(votes_path, comments_path, "html", False, html_out) == 0
    assert "Statement &lt;3&gt; &amp; more" in html_out.read_text(encoding="utf-8")


def test_cli_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(tmp_path / "missing.csv", None, "json", False, None) == 2
    err = capsys.readouterr().err
    assert "missing.csv" in err and err.count("\n") == 1
    bad = write(tmp_path / "votes.csv", "timestamp,datetime,comment-id,voter-id,vote\n1,x,0,0,5\n")
    assert run_cli(bad, None, "md", False, None) == 2
    assert "votes.csv: line 2" in capsys.readouterr().err
    empty = write(tmp_path / "empty.csv", "timestamp,datetime,comment-id,voter-id,vote\n")
    assert run_cli(empty, None, "json", False, None) == 2
    assert run_cli(bad, None, "pdf", False, None) == 2
    capsys.readouterr()
