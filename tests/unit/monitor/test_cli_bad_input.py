"""Every bad input of issue 2: unreadable input exits 2 with one stderr line naming the culprit;
problems inside readable data are quality issues of a run that goes on."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.synthetic import synthetic_frame  # noqa: E402


def _refuse(token: str) -> Any:
    raise AssertionError(f"non-JSON constant {token!r} in the output")


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("bad")
    synthetic_frame(3000, seed=0).to_csv(d / "train.csv", index=False)
    synthetic_frame(200, seed=1).to_csv(d / "current.csv", index=False)
    args = ["--target", "y", "--prediction", "pred", "--id", "id", "--timestamp", "ts"]
    assert run(["profile", str(d / "train.csv"), "-o", str(d / "profile.json"), *args])[0] == 0
    assert run(["profile", str(d / "train.csv"), "-o", str(d / "no_ts.json"), "--target", "y"])[0] == 0
    return d


def csv_lines(base: Path) -> list[str]:
    return (base / "current.csv").read_text().splitlines()


def assert_error(code: int, out: str, err: str, *names: str) -> str:
    assert code == 2
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("driftwarden: error: ")
    assert "Traceback" not in err
    for name in names:
        assert name in err, (name, err)
    return err


def check_json(base: Path, data: Path, profile: str = "profile.json") -> dict[str, Any]:
    code, out, err = run(["check", "--profile", str(base / profile), str(data), "--format", "json"])
    assert (code, err) == (0, "")
    return json.loads(out)


def issues(doc: dict[str, Any]) -> dict[tuple[str | None, str], dict[str, Any]]:
    return {(i["column"], i["check"]): i for i in doc["quality"]["issues"]}


# --------------------------------------------------------------------------- exit 2


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("data.xlsx", b"a,b\n1,2\n", "unknown file extension '.xlsx'"),
        ("empty.csv", b"", "file is empty"),
        ("blank.jsonl", b"\n \n", "file is empty"),
        ("header.csv", b"id,ts,age\n", "no data rows (only a header)"),
        ("latin1.csv", b"city\nberlin\nm\xfcnchen\n", "line 3: not valid UTF-8"),
        ("corrupt.parquet", b"PAR1\x00\x01garbage", "not a readable Parquet file"),
    ],
)
def test_unreadable_current_file(base: Path, name: str, content: bytes, expected: str) -> None:
    path = base / name
    path.write_bytes(content)
    for command in (["check"], ["replay", "--window-rows", "10"]):
        argv = [command[0], "--profile", str(base / "profile.json"), str(path), *command[1:]]
        assert_error(*run(argv), name, expected)


def test_nonexistent_files(base: Path) -> None:
    assert_error(
        *run(["check", "--profile", str(base / "profile.json"), str(base / "nope.csv")]),
        "nope.csv",
        "no such file",
    )
    assert_error(
        *run(["check", "--profile", str(base / "nope.json"), str(base / "current.csv")]), "nope.json"
    )
    assert_error(*run(["profile", str(base / "nope.parquet"), "-o", str(base / "x.json")]), "nope.parquet")


@pytest.mark.parametrize(
    ("name", "make", "expected"),
    [
        ("truncated.json", lambda text: text[: len(text) // 2], "truncated or invalid profile JSON"),
        ("empty.json", lambda text: "", "profile file is empty"),
        ("list.json", lambda text: "[" + text + "]", "not a driftwarden profile (expected a JSON object)"),
        ("string.json", lambda text: '"profile"', "not a driftwarden profile (expected a JSON object)"),
        (
            "v2.json",
            lambda text: json.dumps({**json.loads(text), "version": 2}),
            "unsupported profile version 2",
        ),
        ("other.json", lambda text: json.dumps({"format": "evidently"}), "not a driftwarden profile"),
        ("binary.json", lambda text: "\udcff", "profile is not UTF-8 JSON"),
    ],
)
def test_bad_profiles(base: Path, name: str, make: Any, expected: str) -> None:
    path = base / name
    path.write_bytes(make((base / "profile.json").read_text()).encode("utf-8", "surrogateescape"))
    assert_error(*run(["check", "--profile", str(path), str(base / "current.csv")]), name, expected)
    replay = ["replay", "--profile", str(path), str(base / "current.csv"), "--window-rows", "50"]
    assert_error(*run(replay), name, expected)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--window-time", "1x"], "invalid duration '1x'"),
        (["--window-time", "0s"], "--window-time must be positive"),
        (["--window-time", "1h", "--lateness", "-5m"], "--lateness"),
        (["--window-rows", "0"], "--window-rows must be a positive integer, got 0"),
        (["--window-rows", "ten"], "invalid int value: 'ten'"),
        ([], "one of the arguments --window-rows --window-time is required"),
        (["--window-rows", "5", "--window-time", "1h"], "not allowed with argument"),
        (["--window-time", "1h", "--timestamp", "when"], "timestamp column 'when' is not in the file"),
    ],
)
def test_bad_replay_arguments(base: Path, args: list[str], expected: str) -> None:
    assert_error(
        *run(["replay", "--profile", str(base / "profile.json"), str(base / "current.csv"), *args]), expected
    )


def test_window_time_without_a_timestamp_column(base: Path) -> None:
    err = assert_error(
        *run(
            [
                "replay",
                "--profile",
                str(base / "no_ts.json"),
                str(base / "current.csv"),
                "--window-time",
                "1h",
            ]
        )
    )
    assert "--window-time needs an event-time column" in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--target", "label"], "--target column 'label' is not in the data"),
        (["--timestamp", "when"], "--timestamp column 'when' is not in the data"),
        (["--categorical", "age,nope"], "--categorical column 'nope' is not in the data"),
        (["--exclude", "zzz"], "--exclude column 'zzz' is not in the data"),
        (["--bins", "1"], "bins must be >= 2"),
    ],
)
def test_bad_profile_arguments(base: Path, args: list[str], expected: str) -> None:
    assert_error(
        *run(["profile", str(base / "train.csv"), "-o", str(base / "p2.json"), *args]), "train.csv", expected
    )


def test_unknown_command_and_missing_arguments() -> None:
    assert_error(*run(["frobnicate"]), "invalid choice: 'frobnicate'")
    assert_error(*run(["check", "x.csv"]), "the following arguments are required: --profile")


# --------------------------------------------------------------------------- runs that go on


def test_ragged_csv_is_a_malformed_rows_issue_at_the_right_positions(base: Path) -> None:
    lines = csv_lines(base)
    for position in (3, 120):  # data rows 3 and 120 get an extra field
        lines[position + 1] += ",surplus"
    path = base / "ragged.csv"
    path.write_text("\n".join(lines) + "\n")
    doc = check_json(base, path)
    assert doc["rows"] == 198
    issue = issues(doc)[(None, "malformed_rows")]
    assert issue["value"] == 2.0
    code, out, err = run(
        ["replay", "--profile", str(base / "profile.json"), str(path), "--window-rows", "100"]
    )
    assert (code, err) == (0, "")
    windows = [json.loads(line) for line in out.splitlines()]
    got = [
        (
            w["window"]["first_row"],
            w["window"]["last_row"],
            w["rows"],
            issues(w)[(None, "malformed_rows")]["value"],
        )
        for w in windows
    ]
    assert got == [(0, 99, 99, 1.0), (100, 199, 99, 1.0)]


def test_missing_profiled_column_is_a_missing_column_issue(base: Path) -> None:
    frame = synthetic_frame(200, seed=1).drop(columns=["income", "y"])
    frame.to_csv(base / "no_income.csv", index=False)
    doc = check_json(base, base / "no_income.csv")
    found = issues(doc)
    assert found[("income", "missing_column")]["severity"] == "critical"
    assert ("y", "missing_column") not in found  # labels arrive later: not a data problem
    assert doc["features"]["income"]["statistic"] is None and not doc["features"]["income"]["drift_detected"]
    assert doc["target"] is None


def test_strings_in_a_numeric_column_are_type_mismatch(base: Path) -> None:
    frame = synthetic_frame(200, seed=1)
    frame["age"] = frame["age"].astype(object)
    frame.loc[:19, "age"] = "unknown"
    frame.to_csv(base / "strings.csv", index=False)
    found = issues(check_json(base, base / "strings.csv"))
    assert found[("age", "type_mismatch")]["value"] == pytest.approx(0.1)
    assert found[("age", "type_mismatch")]["severity"] == "critical"


def test_nan_and_inf_are_missing_rate_and_non_finite(base: Path) -> None:
    frame = synthetic_frame(200, seed=1)
    frame.loc[:29, "income"] = np.nan
    frame.loc[30:39, "income"] = np.inf
    frame.loc[40:41, "income"] = -np.inf
    frame.to_csv(base / "naninf.csv", index=False)
    found = issues(check_json(base, base / "naninf.csv"))
    assert found[("income", "non_finite")]["value"] == pytest.approx(12 / 200)
    assert found[("income", "missing_rate")]["value"] == pytest.approx(42 / 200)


def test_jsonl_with_bad_lines_is_malformed_rows(base: Path) -> None:
    records = synthetic_frame(50, seed=1).to_dict(orient="records")
    lines = [json.dumps(r) for r in records]
    lines[7] = '{"age": 41.0, "city": '
    lines[20] = "[1, 2, 3]"
    path = base / "stream.jsonl"
    path.write_text("\n".join(lines) + "\n")
    doc = check_json(base, path)
    assert doc["rows"] == 48
    assert issues(doc)[(None, "malformed_rows")]["value"] == 2.0
    assert set(doc["features"]) == {"age", "income", "city", "flag"}


def test_rows_without_event_time_are_malformed_in_time_replay(base: Path) -> None:
    frame = synthetic_frame(200, seed=1)
    frame.loc[[5, 150], "ts"] = "not a time"
    frame.to_csv(base / "untimed.csv", index=False)
    code, out, err = run(
        ["replay", "--profile", str(base / "profile.json"), str(base / "untimed.csv"), "--window-time", "1m"]
    )
    assert (code, err) == (0, "")
    windows = [json.loads(line) for line in out.splitlines()]
    assert sum(w["rows"] for w in windows) == 198
    assert sum(issues(w).get((None, "malformed_rows"), {"value": 0})["value"] for w in windows) == 2


# --------------------------------------------------------------------------- known gaps (see the report)


def test_profile_output_that_cannot_be_written(base: Path) -> None:
    (base / "outdir").mkdir(exist_ok=True)
    assert_error(*run(["profile", str(base / "train.csv"), "-o", str(base / "outdir")]), "outdir")


def test_profile_with_unsorted_edges_names_the_file(base: Path) -> None:
    doc = json.loads((base / "profile.json").read_text())
    age = next(c for c in doc["columns"] if c["name"] == "age")
    age["edges"] = age["edges"][::-1]
    (base / "reversed.json").write_text(json.dumps(doc))
    assert_error(
        *run(["check", "--profile", str(base / "reversed.json"), str(base / "current.csv")]),
        "reversed.json",
        "age",
    )


def test_profile_with_unknown_role_is_rejected(base: Path) -> None:
    doc = json.loads((base / "profile.json").read_text())
    doc["columns"][0]["role"] = "boss"
    (base / "role.json").write_text(json.dumps(doc))
    assert_error(
        *run(["check", "--profile", str(base / "role.json"), str(base / "current.csv")]), "role.json", "boss"
    )


# --------------------------------------------------------------------------- fuzz: never a traceback
_CSV_PIECES = st.sampled_from(
    [
        "age",
        "city",
        "income",
        "flag",
        "ts",
        ",",
        ",",
        "\n",
        "\n",
        "\r\n",
        '"',
        "1",
        "2.5",
        "-3e9",
        "inf",
        "nan",
        "",
        " ",
        "berlin",
        "2026-01-01T00:00:00Z",
        "\t",
        ";",
        "\x00",
        "é",
        "\u2028",
    ]
)
_JSON_PIECES = st.sampled_from(
    [
        '{"age": 1',
        "}",
        "{",
        '"city": "x"',
        ", ",
        "\n",
        "[",
        "]",
        "null",
        "1e999",
        '"ts": "2026-01-01T00:00:00Z"',
        ":",
        '"',
        "true",
        "-0",
        "{}",
        '{"age": "abc"}',
        "\\u0000",
    ]
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from(["csv", "jsonl"]),
    st.lists(_CSV_PIECES, max_size=40),
    st.lists(_JSON_PIECES, max_size=30),
    st.binary(max_size=3),
)
def test_fuzzed_files_exit_0_or_2_with_one_line(
    base: Path, ext: str, csv_pieces: list[str], json_pieces: list[str], junk: bytes
) -> None:
    text = "".join(csv_pieces if ext == "csv" else json_pieces)
    path = base / f"fuzz.{ext}"
    path.write_bytes(text.encode() + junk)
    for argv in (
        ["check", "--profile", str(base / "profile.json"), str(path), "--format", "json"],
        ["replay", "--profile", str(base / "profile.json"), str(path), "--window-rows", "3"],
        ["replay", "--profile", str(base / "profile.json"), str(path), "--window-time", "1h"],
    ):
        code, out, err = run(argv)
        assert code in (0, 2), (argv, err)
        if code == 2:
            assert out == "" and err.count("\n") == 1 and "Traceback" not in err
        else:
            assert err == ""
            for line in out.splitlines():
                json.loads(line, parse_constant=_refuse)
