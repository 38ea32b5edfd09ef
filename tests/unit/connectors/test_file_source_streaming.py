"""FileSource reads files in chunks: the same rows as read_table, exact restarts, bounded memory."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import Batch
from connectors.files import FileFormatError, FileSource, read_table


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    p = tmp_path / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


def norm(v: Any) -> Any:
    """One spelling per value: missing is None, numbers are floats, the rest text.

    Column kinds are inferred per chunk, so ``"7"`` in a text chunk and ``7`` in a numeric chunk are
    the same value (the monitor parses both to 7.0).
    """
    if v is None:
        return None
    if isinstance(v, (float, np.floating)) and math.isnan(v):
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    try:
        return float(str(v))
    except ValueError:
        return str(v)


def batch_rows(batch: Batch) -> list[dict[str, Any]]:
    cols = batch.columns or {}
    return [{k: norm(cols[k][i]) for k in cols} for i in range(batch.n_columnar_rows)]


def table_rows(path: Path) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    t = read_table(path)
    rows = [{k: norm(v[i]) for k, v in t.columns.items()} for i in range(t.n_rows)]
    return rows, list(zip(t.malformed_positions, t.malformed_reasons, strict=True))


def fill(rows: list[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    return [{k: r.get(k) for k in names} for r in rows]


def drain(src: FileSource, max_rows: int) -> tuple[list[dict[str, Any]], list[tuple[int, str]], list[Batch]]:
    rows: list[dict[str, Any]] = []
    dead: list[tuple[int, str]] = []
    batches: list[Batch] = []
    for _ in range(100_000):
        b = src.poll(max_rows, 0.0)
        batches.append(b)
        rows += batch_rows(b)
        dead += [(int(d.position.removeprefix("row=")), d.detail) for d in b.dead_letters]
        if b.end_of_data:
            return rows, dead, batches
    raise AssertionError("no end of data")


CSV_CASES = [
    "a,b\n1,2\n3,4\n5,6\n7,8\n9,10\n11,12\n13,14\n",
    "a,b\n1,2\n3,4,5\n6,7\n8,9\n10,11,12\n13,14\n15,16,17\n",
    "a,b\n1,2\n3,4,5\n\n6,7\n8,9,10,11\n12,13\n",
    "a,b\n1,2\n   \n3,4,5\n\n\n6,7\n",
    'a,b\n1,"x\ny"\n3,4,5\n6,7\n',
    "a,b\n1,2,3\n",
    "a,b\n1,2,3\n4,5,6\n7,8\n9,10,11,12\n",
    "a,b\n1,2,3,4\n5,6\n7,8\n9,10\n11,12\n",
    '\na,b\n1,2,3\n4,"5\n5"\n\n6,7,8\n9,10\n',
    "x,c\n1.5,a\n2,b\n,c\n3,\n4,d\n",
    "a,b\n1,2\n3,4\n5,6,7\n8,9\n\n\n",
    "\ufeffa,b\r\n1,2\r\n3,4,5\r\n6,7\r\n",
]


@pytest.mark.parametrize("text", CSV_CASES)
@pytest.mark.parametrize(("chunk_rows", "max_rows"), [(1, 1), (2, 3), (3, 2), (100, 4)])
def test_csv_stream_equals_read_table(tmp_path: Path, text: str, chunk_rows: int, max_rows: int) -> None:
    path = write(tmp_path, "s.csv", text)
    want, want_dead = table_rows(path)
    src = FileSource("f", path, at_end="exit", chunk_rows=chunk_rows)
    src.open(None)
    rows, dead, _ = drain(src, max_rows)
    assert rows == want
    assert [p for p, _ in dead] == [p for p, _ in want_dead]
    assert [r for _, r in dead] == [r for _, r in want_dead]


@given(
    lines=st.lists(
        st.one_of(
            st.tuples(st.integers(0, 99), st.integers(0, 99)).map(lambda t: f"{t[0]},{t[1]}"),
            st.tuples(st.integers(0, 9), st.integers(0, 9), st.integers(0, 9)).map(
                lambda t: f"{t[0]},{t[1]},{t[2]}"
            ),
            st.sampled_from(["", "7", "8,"]),
        ),
        min_size=1,
        max_size=25,
    ),
    chunk_rows=st.integers(1, 6),
    max_rows=st.integers(1, 7),
)
@settings(max_examples=60, deadline=None)
def test_random_ragged_csv_streams_like_read_table(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str], chunk_rows: int, max_rows: int
) -> None:
    path = write(tmp_path_factory.mktemp("csv"), "r.csv", "a,b\n" + "\n".join(lines) + "\n")
    try:
        want, want_dead = table_rows(path)
    except FileFormatError:
        with pytest.raises(FileFormatError):
            FileSource("f", path, at_end="exit", chunk_rows=chunk_rows).open(None)
        return
    src = FileSource("f", path, at_end="exit", chunk_rows=chunk_rows)
    src.open(None)
    rows, dead, _ = drain(src, max_rows)
    assert rows == want
    assert [p for p, _ in dead] == [p for p, _ in want_dead]


def test_parquet_stream_equals_read_table_and_skips_row_groups(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "x": np.arange(1000, dtype=np.float64) / 3,
            "n": np.arange(1000),
            "c": pd.Categorical(np.array(["a", "b", "c", None], dtype=object)[np.arange(1000) % 4]),
            "t": pd.date_range("2026-01-01", periods=1000, freq="min", tz="UTC"),
        }
    )
    path = tmp_path / "s.parquet"
    frame.to_parquet(path, index=False, row_group_size=128)
    want, _ = table_rows(path)
    src = FileSource("f", path, at_end="exit", chunk_rows=50)
    src.open(None)
    assert src.status().lag == {"0": 1000}
    rows, dead, batches = drain(src, 77)
    assert rows == want and dead == []
    assert src.status().lag == {"0": 0}
    for b in batches[:-1]:  # restart from each checkpoint: exactly the remaining rows
        again = FileSource("f", path, at_end="exit", chunk_rows=64)
        assert b.checkpoint is not None
        again.open(b.checkpoint)
        rest, _, _ = drain(again, 1000)
        assert rest == want[b.checkpoint["row"] :]


def test_jsonl_stream_equals_read_table_with_bad_lines(tmp_path: Path) -> None:
    lines = [
        '{"a": 1, "b": "x"}',
        "{not json",
        '{"a": 2}',
        "",
        "[1, 2]",
        '{"a": 3, "b": "y", "c": {"k": 1}}',
        '{"b": "z"}',
        "\u2028",
        '{"a": 4.5, "b": "w"}\r',
        "7",
    ]
    path = write(tmp_path, "s.jsonl", "\ufeff" + "\n".join(lines) + "\n")
    want, want_dead = table_rows(path)
    names = list(read_table(path).columns)
    for chunk_rows, max_rows in [(1, 1), (2, 3), (4, 2), (100, 100)]:
        src = FileSource("f", path, at_end="exit", chunk_rows=chunk_rows)
        src.open(None)
        rows, dead, _ = drain(src, max_rows)
        assert fill(rows, names) == want
        assert dead == want_dead


def test_invalid_utf8_costs_only_its_row(tmp_path: Path) -> None:
    csv_path = write(tmp_path, "u.csv", b"a,b\n1,2\n3,x\xff\n5,6\n7,8,9\n10,11\n")
    src = FileSource("f", csv_path, at_end="exit", chunk_rows=2)
    src.open(None)
    b = src.poll(10, 0.0)
    assert [r["a"] for r in batch_rows(b)] == [1.0]
    assert [(d.position, d.reason) for d in b.dead_letters] == [("row=1", "invalid_utf8")]
    rows, dead, _ = drain(src, 10)
    assert [r["a"] for r in rows] == [5.0, 10.0] and [p for p, _ in dead] == [3]
    jsonl = write(tmp_path, "u.jsonl", b'{"a": 1}\n{"a": "\xff"}\n{"a": 3}\n')
    src = FileSource("f", jsonl, at_end="exit")
    src.open(None)
    b = src.poll(10, 0.0)
    assert [r["a"] for r in batch_rows(b)] == [1.0, 3.0]
    assert [(d.position, d.reason) for d in b.dead_letters] == [("row=1", "invalid_utf8")]
    assert "line 2" in b.dead_letters[0].detail


def test_invalid_utf8_in_the_header_is_a_file_error(tmp_path: Path) -> None:
    path = write(tmp_path, "h.csv", b"a,\xffb\n1,2\n")
    with pytest.raises(FileFormatError, match=r"line 1: not valid UTF-8 \(byte 0xff"):
        FileSource("f", path).open(None)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("e.csv", "", "file is empty"),
        ("h.csv", "a,b\n", "no data rows"),
        ("d.csv", "a,a\n1,2\n", "duplicate column names"),
        ("e.jsonl", "\n\n", "no data rows"),
        ("x.parquet", b"not parquet", "not a readable Parquet file"),
        ("m.csv", None, "no such file"),
    ],
)
def test_unreadable_files_fail_at_open(
    tmp_path: Path, name: str, data: str | bytes | None, message: str
) -> None:
    path = tmp_path / name if data is None else write(tmp_path, name, data)
    with pytest.raises(FileFormatError, match=message):
        FileSource("f", path).open(None)


@pytest.mark.parametrize(("suffix", "bad_share"), [("csv", 0.15), ("csv", 0.0), ("jsonl", 0.15)])
def test_restart_from_every_checkpoint_gives_the_rest_exactly_once(
    tmp_path: Path, suffix: str, bad_share: float
) -> None:
    rng = np.random.default_rng(3)
    good = [(i, float(rng.normal())) for i in range(200)]
    lines: list[str] = []
    for i, x in good:
        if suffix == "csv":
            lines.append(f"{i},{x}")
            if rng.uniform() < bad_share:
                lines.append("9,9,9")
        else:
            lines.append(f'{{"i": {i}, "x": {x}}}')
            if rng.uniform() < bad_share:
                lines.append("{bad")
    if suffix == "csv":
        text = "i,x\n" + "\n".join(lines) + "\n"
    else:
        text = "{bad\n" + "\n".join(lines) + "\n[]\n"
    path = write(tmp_path, f"r.{suffix}", text)
    src = FileSource("f", path, at_end="exit", chunk_rows=17)
    src.open(None)
    rows, dead, batches = drain(src, 11)
    assert [r["i"] for r in rows] == [float(i) for i, _ in good]
    all_dead = [p for p, _ in dead]
    assert len(all_dead) == len(set(all_dead)) == read_table(path).malformed_rows
    delivered_dead: list[int] = []
    for b in batches:
        delivered_dead += [int(d.position.removeprefix("row=")) for d in b.dead_letters]
        if b.end_of_data:
            break
        assert b.checkpoint is not None
        again = FileSource("f", path, at_end="exit", chunk_rows=13)
        again.open(b.checkpoint)
        rest, rest_dead, _ = drain(again, 29)
        assert [r["i"] for r in rest] == [float(i) for i, _ in good[b.checkpoint["row"] :]]
        assert sorted(delivered_dead + [p for p, _ in rest_dead]) == sorted(all_dead)  # each exactly once


def test_restart_counts_plain_csv_blocks_without_parsing_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import connectors.files as files

    path = write(tmp_path, "p.csv", "a,b\n" + "".join(f"{i},{i % 7}\n" for i in range(5000)) + "7,8,9\n1,2\n")
    parsed: list[int] = []
    real = files._csv_text_chunk

    def counting(path: Path, text: str, start: int) -> tuple[Any, int]:
        parsed.append(start)
        return real(path, text, start)

    monkeypatch.setattr(files, "_csv_text_chunk", counting)
    src = FileSource("f", path, at_end="exit", chunk_rows=100)
    src.open({"row": 4990, "loop": 0})
    rows, dead, _ = drain(src, 1000)
    assert [r["a"] for r in rows] == [float(i) for i in range(4990, 5000)] + [1.0]
    assert [p for p, _ in dead] == [5000]
    assert len(parsed) <= 3  # the blocks before row 4900 were only counted


def test_exit_idle_and_loop(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", "a\n1\n2\n3,3\n4\n")
    slept: list[float] = []
    src = FileSource("f", path, at_end="idle", sleep=slept.append, chunk_rows=3)
    src.open(None)
    assert src.status().lag == {}  # not known before the end of a CSV file was seen
    b = src.poll(2, 1.0)
    assert batch_rows(b) == [{"a": 1.0}, {"a": 2.0}] and not b.end_of_data
    assert [d.position for d in b.dead_letters] == ["row=2"]
    b = src.poll(10, 1.0)
    assert batch_rows(b) == [{"a": 4.0}] and not b.end_of_data
    assert [d.position for d in b.dead_letters] == []  # reported with the batch before
    assert src.status().lag == {"0": 0}
    idle = src.poll(10, 1.0)
    assert idle.n_rows == 0 and not idle.end_of_data and slept == [0.5]
    assert idle.checkpoint == {"row": 3, "loop": 0}

    loop = FileSource("f", path, at_end="loop", chunk_rows=2)
    loop.open(None)
    seen: list[float] = []
    dead = 0
    for _ in range(8):
        b = loop.poll(2, 0.0)
        seen += [r["a"] for r in batch_rows(b)]
        dead += len(b.dead_letters)
        assert not b.end_of_data
    assert seen[:7] == [1.0, 2.0, 4.0, 1.0, 2.0, 4.0, 1.0]
    assert dead == 1  # dead letters in the first loop only
    assert loop.checkpoint()["loop"] >= 2
    restarted = FileSource("f", path, at_end="loop")
    restarted.open({"row": 1, "loop": 3})
    b = restarted.poll(10, 0.0)
    assert batch_rows(b) == [{"a": 2.0}, {"a": 4.0}] and b.dead_letters == []


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


def test_pacing_with_an_injected_clock(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", "a\n" + "".join(f"{i}\n" for i in range(1000)))
    clock = FakeClock()
    src = FileSource(
        "f", path, at_end="exit", rows_per_second=100.0, clock=clock, sleep=clock.sleep, chunk_rows=64
    )
    src.open(None)
    got = 0
    while True:
        b = src.poll(1000, 1.0)
        got += b.n_rows
        assert b.n_rows <= 100
        if b.end_of_data:
            break
        clock.now += 0.25
    assert got == 1000
    assert 9.0 <= clock.now <= 11.5  # 1000 rows at 100 rows/s


def test_argument_checks(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="chunk_rows must be positive, got 0"):
        FileSource("f", tmp_path / "a.csv", chunk_rows=0)


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.slow
def test_memory_stays_bounded_on_a_2m_row_csv(tmp_path: Path) -> None:
    rows = 2_000_000
    path = tmp_path / "big.csv"
    rng = np.random.default_rng(0)
    with path.open("w") as fh:
        fh.write("a,b,c,d,e,f\n")
        for _ in range(0, rows, 200_000):
            block = rng.normal(size=(200_000, 6)).round(6)
            fh.write("\n".join(",".join(map(str, r)) for r in block.tolist()) + "\n")
    base = _rss_kib()
    peak = base
    src = FileSource("f", path, at_end="exit")
    src.open(None)
    total = 0
    while True:
        b = src.poll(50_000, 0.0)
        total += b.n_rows
        peak = max(peak, _rss_kib())
        if b.end_of_data:
            break
    src.close()
    assert total == rows
    assert (peak - base) / 1024 < 200, f"RSS grew by {(peak - base) / 1024:.0f} MiB"
