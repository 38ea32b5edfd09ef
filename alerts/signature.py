"""HMAC-SHA256 signing of webhook bodies (the ``X-Driftwarden-Signature`` header)."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_S = 300


def sign(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """Return the header value ``v1=<hex>`` of HMAC-SHA256(secret, ``"<timestamp>.<body>"``).

    Examples
    --------
    >>> header = sign("s3cret", 1767225600, b'{"a":1}')
    >>> header[:3], len(header)
    ('v1=', 67)
    >>> verify_signature("s3cret", "1767225600", b'{"a":1}', header, now=1767225660)
    True
    >>> verify_signature("s3cret", "1767225600", b'{"a":2}', header, now=1767225660)
    False
    """
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    mac = hmac.new(key, f"{int(timestamp)}.".encode("ascii") + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def verify_signature(
    secret: str | bytes,
    timestamp: str | int | None,
    body: bytes,
    signature_header: str | None,
    *,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> bool:
    """Check a received webhook: signature matches and timestamp is fresh.

    Parameters
    ----------
    secret:
        The shared secret.
    timestamp:
        The ``X-Driftwarden-Timestamp`` header (unix seconds).
    body:
        The raw request body, exactly as received.
    signature_header:
        The ``X-Driftwarden-Signature`` header; several comma-separated
        ``v1=`` values are accepted (secret rotation).
    now:
        Current unix time in seconds.
    tolerance_s:
        Maximum age (and clock skew) of the timestamp, 5 minutes by default.

    Returns
    -------
    bool
        True only when the timestamp is within ``tolerance_s`` of ``now`` and
        one signature matches (compared in constant time).
    """
    if timestamp is None or signature_header is None:
        return False
    try:
        ts = int(str(timestamp).strip())
    except ValueError:
        return False
    if abs(now - ts) > tolerance_s:
        return False
    expected = sign(secret, ts, body)
    candidates = [part.strip() for part in signature_header.split(",")]
    return any(hmac.compare_digest(expected, c) for c in candidates if c.startswith(f"{SIGNATURE_VERSION}="))
