"""Files as tables (CSV, Parquet, JSONL): what reads, what is malformed, what is an error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from connectors.files import FileFormatError, FileSource, file_format, iter_table_chunks, read_table


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    p = tmp_path / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


def test_csv_columns_and_row_numbers(tmp_path: Path) -> None:
    t = read_table(write(tmp_path, "a.csv", "\ufeffx,c\n1.5,a\n2,b\n,c\n"))
    assert list(t.columns) == ["x", "c"]  # a UTF-8 BOM is not part of the first name
    assert t.n_rows == 3 and t.row_numbers.tolist() == [0, 1, 2]
    assert t.columns["x"][:2].tolist() == [1.5, 2.0] and np.isnan(t.columns["x"][2])
    assert t.malformed_rows == 0


@pytest.mark.parametrize(
    ("text", "kept", "malformed", "values"),
    [
        ("a,b\n1,2\n3,4,5\n6,7\n", [0, 2], (1,), [1, 6]),
        ("a,b\n1,2\n3,4,5\n\n6,7\n8,9,10,11\n12,13\n", [0, 2, 4], (1, 3), [1, 6, 12]),
        ("a,b\n1,2\n   \n3,4,5\n\n\n6,7\n", [0, 2], (1,), [1, 6]),
        ('a,b\n1,"x\ny"\n3,4,5\n6,7\n', [0, 2], (1,), [1, 6]),
        ("a,b\n1,2,3\n", [], (0,), []),
        # a first data row wider than the header must not shift or truncate anything
        ("a,b\n1,2,3\n4,5,6\n7,8\n9,10,11,12\n", [2], (0, 1, 3), [7]),
        ("a,b\n1,2,3,4\n5,6\n", [1], (0,), [5]),
        ('\na,b\n1,2,3\n4,"5\n5"\n\n6,7,8\n9,10\n', [1, 3], (0, 2), [4, 9]),
    ],
)
def test_ragged_csv_lines_are_malformed_rows_at_their_data_row(
    tmp_path: Path, text: str, kept: list[int], malformed: tuple[int, ...], values: list[int]
) -> None:
    t = read_table(write(tmp_path, "r.csv", text))
    assert t.row_numbers.tolist() == kept
    assert t.malformed_positions == malformed
    assert t.malformed_rows == len(malformed)
    assert t.columns["a"].tolist() == values
    assert all("expected 2 fields" in r for r in t.malformed_reasons)


def test_short_csv_line_is_missing_values_not_malformed(tmp_path: Path) -> None:
    t = read_table(write(tmp_path, "s.csv", "a,b\n1\n2,3\n"))
    assert t.malformed_rows == 0 and t.n_rows == 2 and np.isnan(t.columns["b"][0])


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "x.txt",
            "a\n1\n",
            r"x\.txt: unknown file extension '\.txt' \(expected \.csv, \.parquet or \.jsonl\)",
        ),
        ("noext", "a\n1\n", r"noext: unknown file extension '\(none\)'"),
        ("e.csv", "", r"e\.csv: file is empty"),
        ("w.csv", "  \n\n", r"w\.csv: file is empty"),
        ("h.csv", "a,b\n", r"h\.csv: no data rows \(only a header\)"),
        ("d.csv", "a,a\n1,2\n", r"d\.csv: duplicate column names in the header \('a'\)"),
        ("u.csv", b"a,b\n1,2\n\xff\xfe,3\n", r"u\.csv: line 3: not valid UTF-8 \(byte 0xff at offset 8\)"),
        ("e.jsonl", "\n\n", r"e\.jsonl: file is empty"),
        ("u.jsonl", b'{"a": 1}\n{"a": "\xc3"}\n', r"u\.jsonl: line 2: not valid UTF-8"),
        ("c.parquet", b"PAR1 this is not parquet", r"c\.parquet: not a readable Parquet file"),
        ("z.parquet", b"", r"z\.parquet: file is empty"),
    ],
)
def test_unreadable_files_raise_one_line_naming_the_file(
    tmp_path: Path, name: str, data: bytes | str, message: str
) -> None:
    path = write(tmp_path, name, data)
    with pytest.raises(FileFormatError, match=message) as info:
        read_table(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_nonexistent_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match=r"nope\.csv: no such file"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(FileFormatError, match=r"nope\.parquet: no such file"):
        read_table(tmp_path / "nope.parquet")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(FileFormatError, match=r"dir\.csv: is a directory"):
        read_table(tmp_path / "dir.csv")


def test_file_format_by_extension() -> None:
    assert [file_format(f) for f in ("a.CSV", "b.parquet", "c.pq", "d.jsonl", "e.ndjson")] == [
        "csv",
        "parquet",
        "parquet",
        "jsonl",
        "jsonl",
    ]


def test_jsonl_bad_lines_are_malformed_rows(tmp_path: Path) -> None:
    text = '{"a": 1, "b": "x"}\n{"a": 2\n[1, 2]\n\n{"a": 3, "n": {"k": [1]}}\n"str"\n{"b": "y"}\n'
    t = read_table(write(tmp_path, "s.jsonl", text))
    assert t.n_rows == 3
    assert t.row_numbers.tolist() == [0, 3, 5]  # blank lines are not rows
    assert t.malformed_positions == (1, 2, 4)
    assert t.malformed_reasons == ("invalid JSON", "not a JSON object", "not a JSON object")
    assert t.columns["a"].dtype == np.float64
    assert t.columns["a"][:2].tolist() == [1.0, 3.0] and np.isnan(t.columns["a"][2])
    assert t.columns["b"].tolist() == ["x", None, "y"]
    assert t.columns["n"].tolist() == [None, '{"k":[1]}', None]  # nested values kept as JSON text


def test_parquet_round_trip(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "x": [1.0, None, 3.0],
            "c": pd.Categorical(["a", "b", None]),
            "i": pd.array([1, None, 3], dtype="Int64"),
            "t": pd.to_datetime(["2026-01-01T00:00:00Z"] * 3),
        }
    )
    path = tmp_path / "p.parquet"
    frame.to_parquet(path)
    t = read_table(path)
    assert t.n_rows == 3 and t.row_numbers.tolist() == [0, 1, 2]
    assert t.columns["c"][:2].tolist() == ["a", "b"] and pd.isna(t.columns["c"][2])
    assert t.columns["i"].tolist() == [1, None, 3]
    assert t.columns["t"].dtype.kind == "M"
    empty = tmp_path / "e.parquet"
    frame.iloc[:0].to_parquet(empty)
    with pytest.raises(FileFormatError, match=r"e\.parquet: no data rows"):
        read_table(empty)


def test_iter_table_chunks(tmp_path: Path) -> None:
    t = read_table(write(tmp_path, "a.csv", "a\n" + "\n".join(map(str, range(10))) + "\n"))
    got = [(c["a"].tolist(), r.tolist()) for c, r in iter_table_chunks(t, 4)]
    assert got == [([0, 1, 2, 3], [0, 1, 2, 3]), ([4, 5, 6, 7], [4, 5, 6, 7]), ([8, 9], [8, 9])]
    with pytest.raises(ValueError, match="chunk_rows must be positive, got 0"):
        list(iter_table_chunks(t, 0))


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


def test_file_source_exit_checkpoint_and_dead_letters(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", "a\n1\n2\n3,3\n4\n5\n")
    src = FileSource("f", path, at_end="exit")
    src.open(None)
    b1 = src.poll(2, 0.0)
    assert b1.columns is not None and b1.columns["a"].tolist() == [1, 2]
    assert [(d.position, d.reason) for d in b1.dead_letters] == [("row=2", "malformed_row")]
    assert b1.checkpoint == {"row": 2, "loop": 0} and not b1.end_of_data
    b2 = src.poll(10, 0.0)
    assert b2.columns is not None and b2.columns["a"].tolist() == [4, 5] and b2.end_of_data
    assert b2.dead_letters == []
    assert src.status().lag == {"0": 0}
    src.close()
    again = FileSource("f", path, at_end="exit")
    again.open({"row": 2, "loop": 0})
    b3 = again.poll(10, 0.0)
    assert b3.columns is not None and b3.columns["a"].tolist() == [4, 5]
    assert b3.dead_letters == []  # reported before the checkpoint


def test_file_source_loop_and_pace(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", "a\n1\n2\n3\n")
    clock = FakeClock()
    src = FileSource("f", path, at_end="loop", rows_per_second=2.0, clock=clock, sleep=clock.sleep)
    src.open(None)
    seen: list[int] = []
    for _ in range(6):
        b = src.poll(100, 1.0)
        if b.columns is not None:
            seen += b.columns["a"].tolist()
    assert seen[:5] == [1, 2, 3, 1, 2]
    assert src.checkpoint()["loop"] >= 1
    assert clock.now > 0  # the pace was enforced with the injected sleep


def test_file_source_argument_checks(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rows_per_second must be >= 0, got -1"):
        FileSource("f", tmp_path / "a.csv", rows_per_second=-1)
    with pytest.raises(ValueError, match="at_end must be 'idle', 'loop' or 'exit', got 'stop'"):
        FileSource("f", tmp_path / "a.csv", at_end="stop")  # type: ignore[arg-type]


def test_jsonl_lines_split_only_on_newline(tmp_path: Path) -> None:
    # U+2028 and friends are legal inside JSON strings (orjson writes them raw); CRLF is tolerated
    data = '{"a": "x\u2028y\x85z\u2029", "b": 1}\r\n{"a": "w", "b": 2}\n'.encode()
    t = read_table(write(tmp_path, "ls.jsonl", data))
    assert t.malformed_rows == 0
    assert t.columns["a"].tolist() == ["x\u2028y\x85z\u2029", "w"]
    assert t.row_numbers.tolist() == [0, 1]


def test_csv_module_limits_never_escape_as_tracebacks(tmp_path: Path) -> None:
    huge = "x" * 200_000  # over the csv module's default field size limit
    t = read_table(write(tmp_path, "big.csv", f'a,b\n1,2\n3,"{huge}"\n4,5,6\n\n7,8\n'))
    assert t.row_numbers.tolist() == [0, 1, 3] and t.malformed_positions == (2,)
    assert t.columns["b"][1] == huge
    # a first row wider than the header sends the file through the csv module: an error, not a crash
    with pytest.raises(FileFormatError, match=r"wide\.csv: not a readable CSV file \(record 3: field larger"):
        read_table(write(tmp_path, "wide.csv", f'a,b\n1,2,3\n4,"{huge}"\n'))
    with pytest.raises(FileFormatError, match=r"unbalanced\.csv: not a readable CSV file"):
        read_table(write(tmp_path, "unbalanced.csv", 'a,"b\n1,2\n'))
