"""The one base error of the detectors package."""

from __future__ import annotations


class DetectorError(Exception):
    """Base class of every error raised by :mod:`detectors`; ``str()`` is one line."""


class ProfileError(DetectorError):
    """A profile document cannot be read (truncated, wrong version, wrong shape)."""
