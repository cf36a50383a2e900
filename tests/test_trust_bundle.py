"""Reading certificate files: any input gives certificates or one TrustError line, never another exception."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _trust_support import pem_bundle, webex_set
from xsp_trust import TrustError, parse_certificates

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def _good() -> bytes:
    root, issuing = webex_set(1)
    return pem_bundle([root.certificate, issuing.certificate], crlf=True, junk=True)


def _parse_or_refuse(data: bytes) -> None:
    try:
        certs = parse_certificates(data, "fuzz.pem")
    except TrustError as exc:
        message = str(exc)
        assert message and "\n" not in message and "\r" not in message
    else:
        assert certs


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise_anything_but_trust_error(data: bytes) -> None:
    """Random bytes: a result or a one-line TrustError."""
    _parse_or_refuse(data)


@FUZZ
@given(st.data())
def test_damaged_bundles_never_raise_anything_but_trust_error(data: st.DataObject) -> None:
    """A real bundle cut, spliced or with bytes flipped: a result or a one-line TrustError."""
    good = _good()
    start = data.draw(st.integers(0, len(good)))
    end = data.draw(st.integers(start, len(good)))
    insert = data.draw(st.binary(max_size=64))
    _parse_or_refuse(good[:start] + insert + good[end:])


def test_duplicates_are_kept_once_in_first_seen_order() -> None:
    """The same certificate three times is returned once, in the order first seen."""
    root, issuing = webex_set(1)
    data = pem_bundle([issuing.certificate, root.certificate, issuing.certificate,
                       root.certificate, issuing.certificate])
    assert parse_certificates(data) == [issuing.certificate, root.certificate]
