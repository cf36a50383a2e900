"""A chain the listener accepted is not judged again while it cannot have changed: the
memo is keyed by the exact certificates and anchors, and lasts until the first
certificate of the accepted path expires; refusals are never remembered."""
from __future__ import annotations

import datetime as dt

from cryptography import x509

from cryptography.hazmat.primitives.serialization import Encoding

import _tls_support
from _listener_support import get_whoami, pki, running_listener
from xsp.tls import clientcheck


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _judged(client, anchors):
    chain = [client.certificate, *client.chain]
    code, verification = clientcheck.judge(chain, anchors)
    key = (tuple(_der(c) for c in chain), tuple(_der(a) for a in anchors))
    return key, chain, clientcheck.Verdict(_der(chain[0]), code, verification)


def test_an_accepted_chain_is_remembered_until_its_path_first_expires():
    p = pki()
    key, chain, verdict = _judged(p.good, [p.root.certificate])
    assert verdict.code == 0
    memo = clientcheck._Accepted()
    memo.put(key, verdict, chain)
    first_expiry = min(c.not_valid_after_utc for c in (*chain, p.root.certificate))
    assert memo.get(key, first_expiry - dt.timedelta(seconds=1)) is verdict
    assert memo.get(key, first_expiry) is None  # judged afresh from then on
    assert memo.get(key, first_expiry - dt.timedelta(seconds=1)) is None  # and forgotten


def test_a_refusal_is_not_remembered_and_other_anchors_are_another_key():
    p = pki()
    key, chain, verdict = _judged(p.intruder, [p.root.certificate])
    assert verdict.code != 0
    memo = clientcheck._Accepted()
    memo.put(key, verdict, chain)
    assert memo.get(key, dt.datetime.now(dt.timezone.utc)) is None
    accepted_key, accepted_chain, accepted = _judged(p.good, [p.root.certificate])
    memo.put(accepted_key, accepted, accepted_chain)
    other_anchors = (accepted_key[0], (_der(p.evil_root.certificate),))
    assert memo.get(other_anchors, dt.datetime.now(dt.timezone.utc)) is None


def test_the_memo_holds_a_bounded_number_of_chains():
    p = pki()
    key, chain, verdict = _judged(p.good, [p.root.certificate])
    memo = clientcheck._Accepted(size=2)
    for n in range(3):
        memo.put((key[0], (bytes([n]),)), verdict, chain)
    now = dt.datetime.now(dt.timezone.utc)
    assert memo.get((key[0], (b"\x00",)), now) is None  # the oldest went
    assert memo.get((key[0], (b"\x02",)), now) is verdict


def test_a_client_accepted_twice_is_judged_once_and_refused_ones_every_time(monkeypatch,
                                                                            tmp_path):
    judged: list[int] = []
    real_judge = clientcheck.judge

    def counting(chain, anchors, at=None):
        judged.append(len(chain))
        return real_judge(chain, anchors, at)

    monkeypatch.setattr(clientcheck, "judge", counting)
    clientcheck._accepted.clear()
    p = pki()
    _, context = _tls_support.server_context(
        tmp_path, ("TLSv1.2", "TLSv1.3"), ("TLS_AES_128_GCM_SHA256",
                                           "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
        require_client_cert=True, anchors=[p.root.cert_pem])
    with running_listener(context) as (listener, port):
        for _ in range(3):
            client = _tls_support.client_context(versions=["TLSv1.2"], certificate=p.good)
            assert get_whoami(port, client)["cn"] == "webex-client"
        assert len(judged) == 1
        for _ in range(2):
            client = _tls_support.client_context(versions=["TLSv1.2"], certificate=p.intruder)
            try:
                get_whoami(port, client)
            except OSError:
                pass
        listener.wait_refusals(2, timeout=20)
        assert len(judged) == 3
