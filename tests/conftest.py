"""Shared fixtures: small deterministic synthetic datasets written to ``tmp_path``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

from tests.synthetic import synthetic_frame

# CI (.ci/run sets HYPOTHESIS_PROFILE=ci): the same examples on every run and no per-example
# deadline, so a red build is a bug and never a new random draw or a slow moment on a busy
# machine. Local runs keep drawing new examples.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

__all__ = ["synthetic_frame"]


@pytest.fixture
def make_csv(tmp_path: Path) -> Callable[..., Path]:
    """``make_csv(name, n, seed=0, shift=0.0)`` writes :func:`synthetic_frame` to ``tmp_path/name``."""

    def _make(name: str, n: int, *, seed: int = 0, shift: float = 0.0) -> Path:
        path = tmp_path / name
        synthetic_frame(n, seed=seed, shift=shift).to_csv(path, index=False)
        return path

    return _make
