"""Per-window model performance and concept drift from the prediction and target columns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from detectors.profile import Profile
from detectors.result import ConceptVerdict, PerformanceVerdict, WindowInfo
from detectors.sketch import WindowSketch


class ModelTracker:
    """Follows labelled rows of a monitor (filled in by the model-drift work)."""

    def __init__(self, profile: Profile, *, concept_method: str | None = "adwin") -> None:
        self.profile = profile
        self.concept_method = concept_method

    def observe(self, columns: Mapping[str, np.ndarray], row_numbers: np.ndarray) -> None:
        return None

    def close_window(
        self, sketch: WindowSketch, info: WindowInfo
    ) -> tuple[PerformanceVerdict | None, ConceptVerdict | None]:
        return None, None

    def state(self) -> dict[str, Any]:
        return {}

    def restore(self, state: Mapping[str, Any]) -> None:
        return None


def reference_extras(profile: Profile, columns: Mapping[str, np.ndarray]) -> Profile:
    """Reference performance and calibration recorded in the profile (model-drift work)."""
    return profile
