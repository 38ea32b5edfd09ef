"""Streaming change detectors: one value at a time, explicit reset, checkpointable."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from detectors.streaming.adwin import ADWIN, ADWINState
from detectors.streaming.base import DetectorState, StreamingDetector
from detectors.streaming.ddm import DDM, DDMState
from detectors.streaming.eddm import EDDM, EDDMState
from detectors.streaming.hddm_a import HDDM_A, HDDMAState
from detectors.streaming.kswin import KSWIN, KSWINState
from detectors.streaming.page_hinkley import PageHinkley, PageHinkleyState

STREAMING_DETECTORS: Mapping[str, type[StreamingDetector]] = MappingProxyType(  # type: ignore[type-arg]
    {cls.method: cls for cls in (ADWIN, PageHinkley, DDM, EDDM, HDDM_A, KSWIN)}
)
"""Detector classes by their method name (``"adwin"``, ``"page_hinkley"``, ...)."""

__all__ = [
    "ADWIN",
    "ADWINState",
    "DDM",
    "DDMState",
    "DetectorState",
    "EDDM",
    "EDDMState",
    "HDDM_A",
    "HDDMAState",
    "KSWIN",
    "KSWINState",
    "PageHinkley",
    "PageHinkleyState",
    "STREAMING_DETECTORS",
    "StreamingDetector",
]
