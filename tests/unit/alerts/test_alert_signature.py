"""Webhook signing and verification."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from alerts import sign, verify_signature

SECRET = "s3cret"
TS = 1767225600
BODY = b'{"event_id":"abc","kind":"data_drift"}'


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{TS}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, TS, BODY) == f"v1={expected}"


def test_verify_accepts_fresh_valid_signature() -> None:
    assert verify_signature(SECRET, str(TS), BODY, sign(SECRET, TS, BODY), now=TS + 299)
    assert verify_signature(SECRET, str(TS), BODY, sign(SECRET, TS, BODY), now=TS - 10)


def test_verify_rejects_stale_tampered_or_wrong_secret() -> None:
    header = sign(SECRET, TS, BODY)
    assert not verify_signature(SECRET, str(TS), BODY, header, now=TS + 301)
    assert not verify_signature(SECRET, str(TS), BODY + b" ", header, now=TS)
    assert not verify_signature("other", str(TS), BODY, header, now=TS)
    assert not verify_signature(SECRET, str(TS + 1), BODY, header, now=TS)
    assert not verify_signature(SECRET, None, BODY, header, now=TS)
    assert not verify_signature(SECRET, "not-a-number", BODY, header, now=TS)
    assert not verify_signature(SECRET, str(TS), BODY, None, now=TS)
    assert not verify_signature(SECRET, str(TS), BODY, header.replace("v1=", "v0="), now=TS)


def test_verify_accepts_one_of_several_signatures() -> None:
    header = f"{sign('old', TS, BODY)}, {sign(SECRET, TS, BODY)}"
    assert verify_signature(SECRET, str(TS), BODY, header, now=TS)


@given(secret=st.text(min_size=1, max_size=40), body=st.binary(max_size=300), ts=st.integers(0, 2**33))
def test_sign_verify_round_trip(secret: str, body: bytes, ts: int) -> None:
    header = sign(secret, ts, body)
    assert verify_signature(secret, str(ts), body, header, now=ts)
    assert not verify_signature(secret, str(ts), body + b"x", header, now=ts)
