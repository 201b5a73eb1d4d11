"""Reading a Polis conversation export (the CSV files of Polis's data export).

* ``votes.csv``: ``timestamp,datetime,comment-id,voter-id,vote`` (agree 1, disagree -1, pass 0;
  a participant's vote on a comment may appear several times: the latest timestamp wins);
* ``comments.csv``: ``timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,
  comment-body`` (``moderated`` -1 means moderated out);
* ``participants-votes.csv``: one row per participant with Polis's ``group-id`` (empty when
  Polis did not cluster the participant), then the vote matrix;
* ``summary.csv``: two-column ``key,value`` rows, including ``groups``.

Malformed rows raise :class:`ValueError` naming the file and the line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from bot.summary.analysis import Vote

VOTE_COLUMNS = ("timestamp", "comment-id", "voter-id", "vote")
COMMENT_COLUMNS = ("comment-id", "moderated")


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row of a CSV file with a header."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        if missing:
            raise ValueError(f"{path.name}: line 1: missing column(s) {', '.join(missing)}")
        for row in reader:
            if None in row:
                raise ValueError(f"{path.name}: line {reader.line_num}: too many fields")
            yield reader.line_num, {k: (v if v is not None else "") for k, v in row.items()}


def _int(value: str, path: Path, line: int, column: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        message = f"{path.name}: line {line}: {column} is not an integer: {value!r}"
        raise ValueError(message) from None


def _float(value: str, path: Path, line: int, column: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        message = f"{path.name}: line {line}: {column} is not a number: {value!r}"
        raise ValueError(message) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"{path.name}: line {line}: {column} is not a finite number")
    return number


def _id(value: str, path: Path, line: int, column: str) -> str:
    text = value.strip()
    if not text:
        raise ValueError(f"{path.name}: line {line}: empty {column}")
    return text


def load_polis_votes(path: Path | str, *, keep_history: bool = False) -> list[Vote]:
    """The votes of ``votes.csv``, one per participant and comment: the latest timestamp wins
    (on equal timestamps, the later row). Returned in file order of the kept rows.

    With ``keep_history`` every row is returned, changed votes included: a replay then sees
    the vote stream as Polis did (the analysis still counts the latest vote)."""
    path = Path(path)
    history: list[Vote] = []
    latest: dict[tuple[str, str], tuple[float, int, Vote]] = {}
    for line, row in _rows(path, VOTE_COLUMNS):
        value = _int(row["vote"], path, line, "vote")
        if value not in (-1, 0, 1):
            raise ValueError(f"{path.name}: line {line}: vote must be -1, 0 or 1, got {value}")
        vote = Vote(
            participant=_id(row["voter-id"], path, line, "voter-id"),
            statement=_id(row["comment-id"], path, line, "comment-id"),
            value=value,
            timestamp=_float(row["timestamp"], path, line, "timestamp"),
        )
        if keep_history:
            history.append(vote)
            continue
        key = (vote.participant, vote.statement)
        known = latest.get(key)
        if known is None or vote.timestamp >= known[0]:
            latest[key] = (vote.timestamp, line, vote)
    if keep_history:
        return history
    return [v for _, _, v in sorted(latest.values(), key=lambda item: item[1])]


def load_polis_comments(path: Path | str) -> tuple[dict[str, str], set[str]]:
    """(comment texts by id, ids of comments moderated out) from ``comments.csv``."""
    path = Path(path)
    texts: dict[str, str] = {}
    moderated_out: set[str] = set()
    for line, row in _rows(path, COMMENT_COLUMNS):
        cid = _id(row["comment-id"], path, line, "comment-id")
        moderated = _int(row["moderated"] or "0", path, line, "moderated")
        texts[cid] = row.get("comment-body", "")
        if moderated == -1:
            moderated_out.add(cid)
    return texts, moderated_out


def load_polis_groups(participants_votes_path: Path | str) -> dict[str, int]:
    """Polis's group of each clustered participant, from ``participants-votes.csv``."""
    path = Path(participants_votes_path)
    groups: dict[str, int] = {}
    for line, row in _rows(path, ("participant", "group-id")):
        pid = _id(row["participant"], path, line, "participant")
        gid = row["group-id"].strip()
        if gid:
            groups[pid] = _int(gid, path, line, "group-id")
    return groups


def load_polis_group_count(summary_path: Path | str) -> int | None:
    """The number of groups Polis showed (the ``groups`` row of ``summary.csv``), if any."""
    path = Path(summary_path)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        for row in reader:
            if row and row[0].strip() == "groups":
                if len(row) < 2 or not row[1].strip():
                    return None
                return _int(row[1], path, reader.line_num, "groups")
    return None
