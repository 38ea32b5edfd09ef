"""The one base error of the alerts package."""

from __future__ import annotations


class AlertError(Exception):
    """Base class of every error raised by :mod:`alerts`; ``str()`` is one line."""


class PayloadError(AlertError):
    """A stored notification cannot be decoded (wrong shape or version)."""
