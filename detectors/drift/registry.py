"""The registered drift tests by name, and the default choice per column.

Default policy (:func:`default_drift_test`), keyed on the size of the *current* window:

* numeric: ``ks`` when the current window has at most 1000 values, else ``wasserstein``;
* categorical: ``chi2`` (``z`` for a binary column) when at most 1000, else ``jensenshannon``.

Why: a p-value test answers "is there *any* difference?", and with enough rows the
answer is always yes. On small windows that is the right question: an effect-size
threshold would be dominated by sampling noise, while ``ks``/``chi2``/``z`` account for
it and keep the false-alarm rate at the chosen level. On large windows every real-world
stream differs a little from its training data, so a p-value test on 1M healthy rows
flags nearly every column. There we use distances with fixed thresholds
(``wasserstein`` in reference standard deviations, 0.1; ``jensenshannon``, base 2,
0.1), which measure *how much* the distribution moved and stay quiet for shifts too small
to matter, however many rows there are. ``wasserstein`` and ``jensenshannon`` work on the
profile's bin and level counts, so they cost O(bins) on windows of any size; ``ks``
needs the sample, which is exact up to the reservoir size.

The mapping is immutable and built from an explicit tuple: importing this module
registers nothing anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from detectors.drift.anderson import ANDERSON_TEST
from detectors.drift.base import ColumnKind, DriftTest
from detectors.drift.chi2 import CHI2_TEST
from detectors.drift.cramervonmises import CRAMERVONMISES_TEST
from detectors.drift.hellinger import HELLINGER_TEST
from detectors.drift.jensenshannon import JENSENSHANNON_TEST
from detectors.drift.kl import KL_TEST
from detectors.drift.ks import KS_TEST
from detectors.drift.psi import PSI_TEST
from detectors.drift.tv import TV_TEST
from detectors.drift.wasserstein import WASSERSTEIN_TEST
from detectors.drift.z import Z_TEST
from detectors.errors import DetectorError

#: Current windows with at most this many values get a p-value test by default.
SMALL_WINDOW_MAX = 1000

_ALL_TESTS: tuple[DriftTest, ...] = (
    KS_TEST,
    ANDERSON_TEST,
    CRAMERVONMISES_TEST,
    CHI2_TEST,
    Z_TEST,
    WASSERSTEIN_TEST,
    PSI_TEST,
    JENSENSHANNON_TEST,
    HELLINGER_TEST,
    KL_TEST,
    TV_TEST,
)

#: Every drift test by its name (the config value and the JSON ``method``).
DRIFT_TESTS: Mapping[str, DriftTest] = MappingProxyType({test.name: test for test in _ALL_TESTS})


class UnknownDriftTestError(DetectorError, ValueError):
    """A drift test name that is not registered; the message lists the available names."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"unknown drift test {name!r}, available: {', '.join(sorted(DRIFT_TESTS))}")


def get_drift_test(name: str) -> DriftTest:
    """Return the registered drift test called ``name``.

    Raises
    ------
    UnknownDriftTestError
        When ``name`` is not registered (a ``ValueError`` listing the available names).

    Examples
    --------
    >>> get_drift_test("psi").default_threshold
    0.2
    """
    try:
        return DRIFT_TESTS[name]
    except (KeyError, TypeError):
        raise UnknownDriftTestError(name) from None


def default_drift_test(
    kind: ColumnKind, n_reference: int, n_current: int, *, n_levels: int | None = None
) -> DriftTest:
    """The drift test used for a column when the configuration names none (see module docstring).

    Parameters
    ----------
    kind:
        ``"numeric"`` or ``"categorical"``.
    n_reference, n_current:
        Non-missing values on each side (``>= 0``). Only ``n_current`` decides today;
        ``n_reference`` is part of the contract so the policy can use it later.
    n_levels:
        Categorical only: number of distinct levels; ``2`` selects ``z`` instead of
        ``chi2`` for small windows.

    Examples
    --------
    >>> default_drift_test("numeric", 100_000, 500).name
    'ks'
    >>> default_drift_test("categorical", 100_000, 50_000).name
    'jensenshannon'
    >>> default_drift_test("categorical", 100_000, 800, n_levels=2).name
    'z'
    """
    if n_reference < 0 or n_current < 0:
        raise ValueError(
            f"sample sizes must be >= 0, got n_reference={n_reference!r}, n_current={n_current!r}"
        )
    small = n_current <= SMALL_WINDOW_MAX
    if kind == "numeric":
        return KS_TEST if small else WASSERSTEIN_TEST
    if kind == "categorical":
        if not small:
            return JENSENSHANNON_TEST
        return Z_TEST if n_levels == 2 else CHI2_TEST
    raise ValueError(f"kind must be 'numeric' or 'categorical', got {kind!r}")
