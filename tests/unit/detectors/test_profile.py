"""Unit tests of profiles: type inference, bins, level caps, roles, overrides, JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from detectors.errors import ProfileError
from detectors.inference import infer_column_type, parse_times
from detectors.profile import PROFILE_VERSION, Profile, build_profile, profile_from_dict

N = 2000


def training_columns(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "id": np.array([f"req-{i:06d}" for i in range(N)], dtype=object),
        "ts": pd.date_range("2026-01-01", periods=N, freq="min")
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_numpy(object),
        "age": rng.integers(18, 90, N),
        "score": rng.normal(0.0, 1.0, N),
        "flag": rng.integers(0, 2, N),
        "amount": np.array([f"{v:.2f}" for v in rng.gamma(2.0, 10.0, N)], dtype=object),
        "city": rng.choice(
            np.array(["a", "b", "c", "d", "e"], dtype=object), N, p=[0.4, 0.3, 0.15, 0.1, 0.05]
        ),
        "active": rng.integers(0, 2, N).astype(bool),
        "comment": np.array([f"free text {i}" for i in range(N)], dtype=object),
        "signup": pd.date_range("2020-01-01", periods=N, freq="D").strftime("%Y-%m-%d").to_numpy(object),
        "y": rng.integers(0, 2, N),
        "pred": rng.random(N),
    }


@pytest.fixture(scope="module")
def profile() -> Profile:
    return build_profile(
        training_columns(),
        created_at="2026-01-01T00:00:00Z",
        target="y",
        prediction="pred",
        id_column="id",
        timestamp="ts",
        max_levels=3,
        bins=20,
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (np.arange(100), "numeric"),
        (np.linspace(0, 1, 50), "numeric"),
        (np.array([0, 1, 1, 0]), "categorical"),
        (np.array([0.0, 1.0, np.nan, 1.0]), "categorical"),
        (np.array([True, False, True]), "categorical"),
        (np.array([True, False, None], dtype=object), "categorical"),
        (np.array(["1.5", "2", "3.25", ""], dtype=object), "numeric"),
        (np.array(["0", "1", "1"], dtype=object), "categorical"),
        (np.array(["a", "b", "a", "a"], dtype=object), "categorical"),
        (np.array(["2026-01-01", "2026-01-02", "2026-02-03"], dtype=object), "datetime"),
        (np.array(["2026-01-01T00:00:00", "2026-01-02T12:00:00"], dtype="datetime64[ns]"), "datetime"),
        (np.array([f"user-{i}" for i in range(500)], dtype=object), "text"),
        (np.array([None, ""], dtype=object), "numeric"),
    ],
)
def test_infer_column_type(values: np.ndarray, expected: str) -> None:
    assert infer_column_type(values) == expected


def test_parse_times() -> None:
    out = parse_times(np.array(["2026-01-01T00:00:00Z", "2026-01-01T01:00:00+01:00", "junk"], dtype=object))
    assert out[0] == 1767225600.0
    assert out[1] == out[0]
    assert np.isnan(out[2])
    assert parse_times(np.array([1767225600000.0]))[0] == 1767225600.0  # milliseconds
    assert np.isnan(
        parse_times(np.array([np.inf, -np.inf, np.nan]))
    ).all()  # no time, not a window at infinity


def test_inferred_types_and_skipped_columns(profile: Profile) -> None:
    assert dict(profile.types) == {
        "id": "id",
        "ts": "datetime",
        "age": "numeric",
        "score": "numeric",
        "flag": "categorical",
        "amount": "numeric",
        "city": "categorical",
        "active": "categorical",
        "comment": "text",
        "signup": "datetime",
        "y": "categorical",
        "pred": "numeric",
    }
    assert set(profile.skipped) == {"comment", "signup"}
    assert "text" in profile.skipped["comment"] and "datetime" in profile.skipped["signup"]
    assert profile.task == "classification"


def test_role_columns_are_never_features(profile: Profile) -> None:
    assert set(profile.feature_names) == {"age", "score", "flag", "amount", "city", "active"}
    roles = {c.name: c.role for c in profile.columns}
    assert roles["y"] == "target" and roles["pred"] == "prediction"
    assert "id" not in roles and "ts" not in roles
    assert set(profile.known_columns) == set(training_columns())


def test_numeric_edges_strictly_increasing_with_outer_edges_at_the_range(profile: Profile) -> None:
    cols = training_columns()
    for name in ("age", "score", "amount", "pred"):
        c = profile.column(name)
        values = pd.to_numeric(pd.Series(cols[name])).to_numpy(dtype=float)
        e = np.asarray(c.edges)
        assert np.all(np.diff(e) > 0), name
        assert e[0] == values.min() == c.minimum
        assert e[-1] == np.nextafter(values.max(), np.inf) and c.maximum == values.max()
        assert len(c.counts) == len(c.edges) + 1
        assert c.counts[0] == 0 and c.counts[-1] == 0  # nothing outside the training range
        assert sum(c.counts) == N
        assert c.mean == pytest.approx(values.mean()) and c.std == pytest.approx(values.std(ddof=1))
    assert len(profile.column("score").edges) <= 21


def test_discrete_numeric_column_gets_one_bin_per_value() -> None:
    p = build_profile({"k": np.array([1, 2, 3, 3, 5, 5, 5])}, created_at="t", numeric=["k"])
    c = p.column("k")
    assert c.edges == (1.0, 2.0, 3.0, 5.0, float(np.nextafter(5.0, np.inf)))
    assert c.counts == (0, 1, 1, 2, 3, 0)


def test_categorical_level_cap(profile: Profile) -> None:
    city = profile.column("city")
    assert city.levels == ("a", "b", "c")
    assert city.levels_truncated is True
    assert city.counts[-1] == sum(training_columns()["city"] == "d") + sum(training_columns()["city"] == "e")
    assert profile.column("flag").levels_truncated is False


def test_overrides_and_exclusions() -> None:
    p = build_profile(
        training_columns(),
        created_at="t",
        categorical=["age"],
        numeric=["flag"],
        exclude=["comment", "score"],
    )
    assert p.column("age").type == "categorical"
    assert p.column("flag").type == "numeric"
    assert "comment" not in p.types and "score" not in p.types
    with pytest.raises(KeyError):
        p.column("score")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"target": "label"}, r"--target column 'label' is not in the data"),
        ({"prediction": "p"}, r"--prediction column 'p' is not in the data"),
        ({"id_column": "nope"}, r"--id column 'nope' is not in the data"),
        ({"timestamp": "when"}, r"--timestamp column 'when' is not in the data"),
        ({"categorical": ["zz"]}, r"--categorical column 'zz' is not in the data"),
        ({"exclude": ["zz"]}, r"--exclude column 'zz' is not in the data"),
        ({"bins": 1}, r"bins must be >= 2, got 1"),
        ({"max_levels": 0}, r"max_levels must be >= 1, got 0"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build_profile({"a": np.arange(3)}, created_at="t", **kwargs)  # type: ignore[arg-type]


def test_no_rows_is_an_error() -> None:
    with pytest.raises(ValueError, match="no rows"):
        build_profile({"a": np.array([])}, created_at="t")


def test_json_round_trip_is_identity(profile: Profile) -> None:
    text = json.dumps(profile.to_dict(), allow_nan=False)
    back = profile_from_dict(json.loads(text))
    assert json.dumps(back.to_dict(), allow_nan=False) == text
    assert back.feature_names == profile.feature_names
    assert back.specs() == profile.specs()
    assert back.known_columns == profile.known_columns
    ref, ref_back = profile.reference_summary("score"), back.reference_summary("score")
    assert ref.counts.tolist() == ref_back.counts.tolist()
    assert ref.sample.tolist() == ref_back.sample.tolist()


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: [1, 2], r"p\.json: not a driftwarden profile \(expected a JSON object\)"),
        (lambda d: {**d, "format": "other"}, r"p\.json: not a driftwarden profile \(format is 'other'\)"),
        (
            lambda d: {**d, "version": 99},
            rf"p\.json: unsupported profile version 99 .*reads {PROFILE_VERSION}",
        ),
        (lambda d: {k: v for k, v in d.items() if k != "columns"}, r"p\.json: malformed profile \(KeyError"),
        (
            lambda d: {**d, "columns": [{**d["columns"][0], "counts": [1]}]},
            r"p\.json: column 'age' has 1 counts, expected",
        ),
        (
            lambda d: {**d, "columns": [{**d["columns"][0], "type": "blob"}]},
            r"p\.json: column 'age' has unknown type 'blob'",
        ),
    ],
)
def test_bad_profile_documents(profile: Profile, mutate: object, match: str) -> None:
    doc = mutate(profile.to_dict())  # type: ignore[operator]
    with pytest.raises(ProfileError, match=match):
        profile_from_dict(doc, source="p.json")
