"""Shared fixtures: small deterministic synthetic datasets written to ``tmp_path``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.synthetic import synthetic_frame

__all__ = ["synthetic_frame"]


@pytest.fixture
def make_csv(tmp_path: Path) -> Callable[..., Path]:
    """``make_csv(name, n, seed=0, shift=0.0)`` writes :func:`synthetic_frame` to ``tmp_path/name``."""

    def _make(name: str, n: int, *, seed: int = 0, shift: float = 0.0) -> Path:
        path = tmp_path / name
        synthetic_frame(n, seed=seed, shift=shift).to_csv(path, index=False)
        return path

    return _make
