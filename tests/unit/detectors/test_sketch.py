"""Unit tests of WindowSketch: bins, counts, moments, sample, duplicates, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detectors.sketch import ColumnSpec, DuplicateSketch, WindowSketch, merge_sketches

NUM = ColumnSpec(name="x", kind="numeric", edges=(0.0, 1.0, 2.0))
CAT = ColumnSpec(name="c", kind="categorical", levels=("a", "b"))


def test_numeric_bins_are_left_closed() -> None:
    sk = WindowSketch([NUM])
    sk.update({"x": np.array([-0.5, 0.0, 0.5, 1.0, 1.999, 2.0, 5.0])})
    # bins: (-inf, 0) [0, 1) [1, 2) [2, inf)
    assert sk.columns["x"].counts.tolist() == [1, 2, 2, 2]


def test_numeric_counts_missing_mismatch_and_non_finite() -> None:
    sk = WindowSketch([NUM])
    raw = np.array([0.5, None, "", "abc", "1.5", math.inf, -math.inf, math.nan, 3], dtype=object)
    sk.update({"x": raw})
    acc = sk.columns["x"]
    assert acc.present == 9
    assert acc.type_mismatch == 1
    assert acc.non_finite == 2
    # missing covers every value the statistics cannot use: absent, mismatched and non-finite
    assert acc.missing == 3 + 1 + 2
    assert acc.n == 3
    assert (acc.minimum, acc.maximum) == (0.5, 3.0)


def test_moments_match_numpy() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(1e6, 3.0, 10_000)  # large offset: the shift keeps the variance accurate
    spec = ColumnSpec(name="x", kind="numeric", edges=(1e6,), shift=1e6)
    sk = WindowSketch([spec])
    for lo in range(0, x.size, 999):
        sk.update({"x": x[lo : lo + 999]}, first_row=lo)
    acc = sk.columns["x"]
    assert acc.mean == pytest.approx(x.mean(), rel=1e-12)
    assert acc.std == pytest.approx(x.std(ddof=1), rel=1e-9)


def test_mean_and_std_of_empty_and_single_value_are_nan() -> None:
    sk = WindowSketch([NUM])
    assert math.isnan(sk.columns["x"].mean)
    sk.update({"x": np.array([1.0])})
    assert sk.columns["x"].mean == 1.0
    assert math.isnan(sk.columns["x"].std)


def test_categorical_counts_other_and_new_levels() -> None:
    sk = WindowSketch([CAT])
    sk.update({"c": np.array(["a", "b", "a", "zz", None, "", "zz", "y"], dtype=object)})
    acc = sk.columns["c"]
    assert acc.counts.tolist() == [2, 1, 3]
    assert acc.missing == 2
    assert acc.new_levels == {"zz": 2, "y": 1}


def test_absent_column_is_not_present_and_unknown_column_is_unexpected() -> None:
    sk = WindowSketch([NUM, CAT], known_columns=("id",))
    sk.update({"x": np.array([1.0, 2.0]), "id": np.array([1, 2]), "extra": np.array([0, 0])})
    assert sk.columns["c"].present == 0
    assert sk.columns["x"].present == 2
    assert sk.unexpected_columns == {"extra": 2}


def test_row_numbers_and_event_times() -> None:
    sk = WindowSketch([NUM])
    sk.update(
        {"x": np.array([1.0, 2.0])}, row_numbers=np.array([10, 12]), event_times=np.array([5.0, np.nan])
    )
    sk.update({"x": np.array([3.0])}, first_row=13, event_times=np.array([2.0]))
    assert (sk.first_row, sk.last_row, sk.rows) == (10, 13, 3)
    assert (sk.event_time_min, sk.event_time_max) == (2.0, 5.0)


def test_small_window_keeps_every_row_in_the_sample() -> None:
    sk = WindowSketch([NUM, CAT], sample_size=100)
    sk.update({"x": np.arange(50.0), "c": np.array(["a"] * 50, dtype=object)})
    assert sorted(sk.sample.values["x"].tolist()) == list(range(50))
    big = WindowSketch([NUM], sample_size=100)
    big.update({"x": np.arange(10_000.0)})
    assert big.sample.keys.size == 100
    assert np.unique(big.sample.values["x"]).size == 100


def test_duplicate_share() -> None:
    sk = WindowSketch([NUM, CAT])
    sk.update({"x": np.array([1.0, 1.0, 2.0, 1.0]), "c": np.array(["a", "a", "a", "b"], dtype=object)})
    assert sk.duplicates.duplicate_share == pytest.approx(1 / 4)
    assert DuplicateSketch.empty().duplicate_share == 0.0


def test_different_lengths_and_bad_arguments_raise() -> None:
    sk = WindowSketch([NUM, CAT])
    with pytest.raises(ValueError, match="different lengths"):
        sk.update({"x": np.zeros(2), "c": np.zeros(3)})
    with pytest.raises(ValueError, match="sample_size must be >= 0"):
        WindowSketch([NUM], sample_size=-1)
    with pytest.raises(ValueError, match="strictly increasing"):
        ColumnSpec(name="x", kind="numeric", edges=(1.0, 1.0))
    with pytest.raises(ValueError, match="kind must be"):
        ColumnSpec(name="x", kind="text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="different column specs"):
        WindowSketch([NUM]).merged(WindowSketch([CAT]))
    with pytest.raises(ValueError, match="at least one sketch"):
        merge_sketches([])


def test_restore_rejects_state_with_other_bins() -> None:
    sk = WindowSketch([NUM])
    sk.update({"x": np.array([0.5])})
    state = sk.to_state()
    other = WindowSketch([ColumnSpec(name="x", kind="numeric", edges=(0.0,))])
    with pytest.raises(ValueError, match="has 4 bins, spec has 2"):
        other.restore(state)


def test_merge_sketches_sums_rows_malformed_late_and_unexpected() -> None:
    a, b = WindowSketch([NUM]), WindowSketch([NUM])
    a.update({"x": np.array([1.0]), "u": np.array([1])}, first_row=0)
    b.update({"x": np.array([2.0, 3.0]), "u": np.array([1, 2])}, first_row=1)
    a.malformed_rows, b.late_rows = 2, 3
    m = merge_sketches([a, b])
    assert (m.rows, m.malformed_rows, m.late_rows, m.first_row, m.last_row) == (3, 2, 3, 0, 2)
    assert m.unexpected_columns == {"u": 3}


def test_state_of_overflowing_moments_survives_every_json_encoder() -> None:
    import json

    import orjson

    sk = WindowSketch([NUM])
    sk.update({"x": np.array([1e200, -1e300, 1.0])}, event_times=np.array([np.inf, 5.0, 6.0]))
    assert math.isinf(sk.columns["x"].total_sq)
    assert (sk.event_time_min, sk.event_time_max) == (5.0, 6.0)  # infinite times are no times
    for encode, decode in (
        (lambda d: json.dumps(d, allow_nan=False), json.loads),
        (orjson.dumps, orjson.loads),
    ):
        back = WindowSketch([NUM])
        back.restore(decode(encode(sk.to_state())))
        assert back.to_state() == sk.to_state()
        assert math.isinf(back.columns["x"].total_sq)
