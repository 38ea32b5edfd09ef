"""The command-line contract of DESIGN.md: JSON shape, exit codes, replay windows, text, golden file."""

from __future__ import annotations

import io
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from monitor import cli
from monitor.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.synthetic import synthetic_frame  # noqa: E402

TOP_KEYS = [
    "drift_detected",
    "drift_share",
    "rows",
    "features",
    "prediction",
    "target",
    "performance",
    "concept",
    "quality",
]
COLUMN_KEYS = ["type", "method", "statistic", "p_value", "threshold", "drift_detected"]
ROLE_COLUMNS = {"id", "ts", "y", "pred"}
RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
GOLDEN = Path(__file__).resolve().parents[2] / "golden"


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def strict_json(text: str) -> Any:
    """``json.loads`` that refuses NaN and Infinity (not JSON)."""

    def refuse(token: str) -> Any:
        raise AssertionError(f"non-JSON constant {token!r} in the output")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli")
    paths = {
        "train": d / "train.csv",
        "healthy": d / "healthy.csv",
        "drifted": d / "drifted.csv",
        "stream": d / "stream.csv",
        "profile": d / "profile.json",
    }
    synthetic_frame(20_000, seed=0).to_csv(paths["train"], index=False)
    synthetic_frame(5000, seed=1).to_csv(paths["healthy"], index=False)
    synthetic_frame(5000, seed=2, shift=8.0).to_csv(paths["drifted"], index=False)
    synthetic_frame(12_345, seed=3).to_csv(paths["stream"], index=False)
    code, _, err = run(
        [
            "profile",
            str(paths["train"]),
            "-o",
            str(paths["profile"]),
            "--target",
            "y",
            "--prediction",
            "pred",
            "--id",
            "id",
            "--timestamp",
            "ts",
        ]
    )
    assert code == 0, err
    return paths


def check(files: dict[str, Path], name: str, *extra: str) -> tuple[int, str, str]:
    return run(["check", "--profile", str(files["profile"]), str(files[name]), "--format", "json", *extra])


def assert_contract(doc: dict[str, Any], *, window: bool) -> None:
    keys = TOP_KEYS[:3] + ["window"] + TOP_KEYS[3:] if window else TOP_KEYS
    assert list(doc) == keys
    assert isinstance(doc["drift_detected"], bool)
    assert 0.0 <= doc["drift_share"] <= 1.0
    assert set(doc["features"]) == {"age", "income", "city", "flag"}
    assert not set(doc["features"]) & ROLE_COLUMNS
    for feature in doc["features"].values():
        assert list(feature) == COLUMN_KEYS
        assert feature["type"] in ("numeric", "categorical")
    for member in ("prediction", "target"):
        assert doc[member] is None or list(doc[member]) == COLUMN_KEYS
    assert doc["performance"] is None or list(doc["performance"]) == [
        "metric",
        "value",
        "reference",
        "drift_detected",
    ]
    assert doc["concept"] is None or list(doc["concept"]) == ["method", "drift_detected", "detail"]
    assert list(doc["quality"]) == ["issues"]
    for issue in doc["quality"]["issues"]:
        assert list(issue) == ["column", "check", "value", "threshold", "severity"]
        assert issue["severity"] in ("warning", "critical")


def test_profile_writes_a_versioned_profile_without_role_columns_as_features(files: dict[str, Path]) -> None:
    doc = strict_json(files["profile"].read_text())
    assert (doc["format"], doc["version"]) == ("driftwarden.profile", 1)
    assert (doc["target"], doc["prediction"], doc["id"], doc["timestamp"]) == ("y", "pred", "id", "ts")
    features = {c["name"] for c in doc["columns"] if c["role"] == "feature"}
    assert features == {"age", "income", "city", "flag"}


def test_check_json_is_exactly_one_contract_object(files: dict[str, Path]) -> None:
    code, out, err = check(files, "healthy")
    assert (code, err) == (0, "")
    assert out.endswith("\n") and out.count("\n") == 1
    doc = strict_json(out)
    assert_contract(doc, window=False)
    assert doc["rows"] == 5000
    assert doc["drift_detected"] is False and doc["drift_share"] == 0.0
    assert doc["prediction"] is not None and doc["target"] is not None
    assert doc["quality"]["issues"] == []


def test_check_detects_the_shifted_feature(files: dict[str, Path]) -> None:
    code, out, _ = check(files, "drifted")
    assert code == 0  # drift alone is not a failure without --fail-on-drift
    doc = strict_json(out)
    assert_contract(doc, window=False)
    assert doc["drift_detected"] is True
    assert [n for n, f in doc["features"].items() if f["drift_detected"]] == ["age"]
    assert doc["drift_share"] == 0.25


@pytest.mark.parametrize(("name", "expected"), [("healthy", 0), ("drifted", 1)])
def test_fail_on_drift_exit_code(files: dict[str, Path], name: str, expected: int) -> None:
    code, out, _ = check(files, name, "--fail-on-drift")
    assert code == expected
    assert strict_json(out)["drift_detected"] is bool(expected)


def test_text_format_is_readable_with_drifted_features_first(files: dict[str, Path]) -> None:
    code, out, _ = run(
        ["check", "--profile", str(files["profile"]), str(files["drifted"]), "--format", "text"]
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("DRIFT — 1/4 features drifted (share 0.25), 5000 rows")
    assert lines[1].split()[:2] == ["column", "type"]
    assert lines[2].split()[:2] == ["!", "age"]
    assert "quality: no issues" in out


def replay(files: dict[str, Path], *args: str) -> list[dict[str, Any]]:
    code, out, err = run(["replay", "--profile", str(files["profile"]), str(files["stream"]), *args])
    assert (code, err) == (0, "")
    docs = [strict_json(line) for line in out.splitlines()]
    for doc in docs:
        assert_contract(doc, window=True)
        assert list(doc["window"]) == ["index", "first_row", "last_row", "start", "end"]
    assert [d["window"]["index"] for d in docs] == list(range(len(docs)))
    assert docs[0]["window"]["first_row"] == 0
    assert docs[-1]["window"]["last_row"] == 12_344
    for a, b in zip(docs, docs[1:], strict=False):
        assert b["window"]["first_row"] == a["window"]["last_row"] + 1
    for d in docs:
        w = d["window"]
        assert d["rows"] == w["last_row"] - w["first_row"] + 1
        assert RFC3339_Z.match(w["start"]) and RFC3339_Z.match(w["end"])
    return docs


def test_replay_row_windows(files: dict[str, Path]) -> None:
    docs = replay(files, "--window-rows", "5000")
    assert [(d["window"]["first_row"], d["window"]["last_row"], d["rows"]) for d in docs] == [
        (0, 4999, 5000),
        (5000, 9999, 5000),
        (10000, 12344, 2345),
    ]
    assert not any(d["drift_detected"] for d in docs)


def test_replay_time_windows(files: dict[str, Path]) -> None:
    docs = replay(files, "--window-time", "1h")
    assert [d["rows"] for d in docs] == [3600, 3600, 3600, 1545]
    assert [(d["window"]["start"], d["window"]["end"]) for d in docs] == [
        ("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"),
        ("2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"),
        ("2026-01-01T02:00:00Z", "2026-01-01T03:00:00Z"),
        ("2026-01-01T03:00:00Z", "2026-01-01T04:00:00Z"),
    ]


def test_replay_text_format(files: dict[str, Path]) -> None:
    code, out, _ = run(
        [
            "replay",
            "--profile",
            str(files["profile"]),
            str(files["stream"]),
            "--window-rows",
            "5000",
            "--format",
            "text",
        ]
    )
    assert code == 0
    heads = [ln for ln in out.splitlines() if ln.startswith("window ")]
    assert [h.split(":")[0] for h in heads] == [
        "window 0 rows 0-4999 [2026-01-01T00",
        "window 1 rows 5000-9999 [2026-01-01T01",
        "window 2 rows 10000-12344 [2026-01-01T02",
    ]


def test_python_dash_m_monitor_subprocess(files: dict[str, Path]) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor",
            "check",
            "--profile",
            str(files["profile"]),
            str(files["drifted"]),
            "--format",
            "json",
            "--fail-on-drift",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    assert_contract(strict_json(proc.stdout), window=False)


# --------------------------------------------------------------------------- golden file


def _rounded(x: Any) -> Any:
    if isinstance(x, float):
        return float(f"{x:.9g}")
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_rounded(v) for v in x]
    return x


def test_golden_check_json(tmp_path: Path) -> None:
    """Pins the JSON of a small deterministic check.

    To regenerate after an intended change of the output (review the diff!):
        DRIFTWARDEN_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/monitor/test_cli_contract.py -k golden
    """
    train = synthetic_frame(3000, seed=11)
    current = synthetic_frame(400, seed=12, shift=6.0)
    current.loc[:59, "income"] = np.nan  # a missing-rate issue
    current.loc[:4, "city"] = "dubai"  # a new category
    current["extra"] = 1  # an unexpected column
    current = current.drop(columns=["flag"])  # a missing column
    train.to_csv(tmp_path / "train.csv", index=False)
    current.to_csv(tmp_path / "current.csv", index=False)
    code, _, err = run(
        [
            "profile",
            str(tmp_path / "train.csv"),
            "-o",
            str(tmp_path / "p.json"),
            "--target",
            "y",
            "--prediction",
            "pred",
            "--id",
            "id",
            "--timestamp",
            "ts",
        ]
    )
    assert code == 0, err
    code, out, err = run(
        ["check", "--profile", str(tmp_path / "p.json"), str(tmp_path / "current.csv"), "--format", "json"]
    )
    assert code == 0, err
    got = _rounded(strict_json(out))
    golden = GOLDEN / "check_small.json"
    if os.environ.get("DRIFTWARDEN_REGENERATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(json.dumps(got, indent=2) + "\n")
    assert got == json.loads(golden.read_text())


# --------------------------------------------------------------------------- verdict sanity at scale


def _big_frame(n: int, seed: int, shift_col: str | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"f{i}": rng.normal(0.0, 1.0, n) for i in range(8)})
    frame["c0"] = rng.choice(np.array(["a", "b", "c", "d"]), n, p=[0.4, 0.3, 0.2, 0.1])
    frame["c1"] = rng.integers(0, 5, n).astype(str)
    if shift_col is not None:
        frame[shift_col] += 0.5
    return frame


@pytest.mark.slow
def test_large_healthy_data_does_not_drift_and_a_half_std_shift_does(tmp_path: Path) -> None:
    _big_frame(200_000, 0).to_parquet(tmp_path / "train.parquet")
    _big_frame(200_000, 1).to_parquet(tmp_path / "healthy.parquet")
    _big_frame(200_000, 2, shift_col="f3").to_parquet(tmp_path / "shifted.parquet")
    assert run(["profile", str(tmp_path / "train.parquet"), "-o", str(tmp_path / "p.json")])[0] == 0
    verdicts = {}
    for name in ("healthy", "shifted"):
        code, out, err = run(
            [
                "check",
                "--profile",
                str(tmp_path / "p.json"),
                str(tmp_path / f"{name}.parquet"),
                "--format",
                "json",
            ]
        )
        assert code == 0, err
        doc = strict_json(out)
        assert len(doc["features"]) == 10
        verdicts[name] = sorted(n for n, f in doc["features"].items() if f["drift_detected"])
        assert all(math.isfinite(f["statistic"]) for f in doc["features"].values())
    assert verdicts == {"healthy": [], "shifted": ["f3"]}


@pytest.mark.parametrize(
    "window",
    [
        ("--window-rows", "700"),
        ("--window-time", "10m"),
    ],
)
def test_replay_output_does_not_depend_on_the_read_chunk_size(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: tuple[str, str]
) -> None:
    frame = synthetic_frame(3000, seed=5)
    rng = np.random.default_rng(5)
    jitter = pd.to_timedelta(rng.integers(-900, 60, frame.shape[0]), unit="s")  # out of order, some late
    frame["ts"] = (pd.to_datetime(frame["ts"]) + jitter).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = frame.to_csv(index=False).splitlines()
    for position in (10, 11, 1500, 2999):
        lines[position + 1] += ",x"
    path = tmp_path / "jittered.csv"
    path.write_text("\n".join(lines) + "\n")
    argv = ["replay", "--profile", str(files["profile"]), str(path), *window, "--lateness", "5m"]
    outputs = []
    replay_table = cli.replay_table
    for chunk_rows in (50_000, 997, 64):

        def chunked(*args: Any, _rows: int = chunk_rows, **kwargs: Any) -> int:
            return replay_table(*args, chunk_rows=_rows, **kwargs)

        monkeypatch.setattr(cli, "replay_table", chunked)
        code, out, err = run(argv)
        assert (code, err) == (0, ""), err
        outputs.append(out)
    assert outputs[0] == outputs[1] == outputs[2]
    docs = [strict_json(line) for line in outputs[0].splitlines()]
    malformed = sum(
        i["value"] for d in docs for i in d["quality"]["issues"] if i["check"] == "malformed_rows"
    )
    assert malformed == 4
    if window[0] == "--window-time":
        late = sum(i["value"] for d in docs for i in d["quality"]["issues"] if i["check"] == "late_rows")
        assert late > 0
        assert sum(d["rows"] for d in docs) + late == 2996


def test_same_rows_give_the_same_json_in_every_file_format(files: dict[str, Path], tmp_path: Path) -> None:
    frame = synthetic_frame(3000, seed=1)
    frame.loc[:9, "income"] = np.nan
    frame.to_csv(tmp_path / "h.csv", index=False)
    frame.to_parquet(tmp_path / "h.parquet")
    frame.to_json(tmp_path / "h.jsonl", orient="records", lines=True)
    outputs = {}
    for ext in ("csv", "parquet", "jsonl"):
        code, out, err = run(
            ["check", "--profile", str(files["profile"]), str(tmp_path / f"h.{ext}"), "--format", "json"]
        )
        assert (code, err) == (0, "")
        outputs[ext] = out
    assert outputs["csv"] == outputs["parquet"] == outputs["jsonl"]
    doc = strict_json(outputs["csv"])
    assert doc["drift_detected"] is False and doc["quality"]["issues"] == []
