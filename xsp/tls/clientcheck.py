"""The client certificate check of a CTI listener: ``trust.verify_chain``, run inside
OpenSSL's handshake in place of OpenSSL's own chain verification.

Why: an interface that allows TLSv1, TLSv1.1 or a NULL suite needs OpenSSL security
level 0 for its handshakes, and OpenSSL applies the same level to the certificates
it verifies, so MD5, SHA-1 and 1024-bit client certificates would pass on every
protocol. A Java TLS server (a real XSP) checks certificates with rules that do not
depend on the protocol. Here the handshake keeps the level its protocols need, and the
client's chain is judged by the one verifier that ``xsp trust verify --purpose client``
also uses, so the two cannot disagree.

How: ``SSL_CTX_set_cert_verify_callback`` (reached with ctypes, see ``xsp.tls.libssl``)
makes OpenSSL hand the chain the client sent to ``_verify`` instead of building a path
itself. The anchors are the context's own trust store, however it was loaded: for each
issuer named in the client's chain (and the leaf's own name, for a pinned leaf),
``X509_STORE_CTX_get1_certs`` returns the anchors of that name, which is how OpenSSL
itself looks issuers up, from loaded certificates and hashed directories alike. A
refusal sets the X.509 error that OpenSSL would set for the same fault, so
OpenSSL sends the alert it sends for that fault (``certificate_expired``,
``unknown_ca``, ``bad_certificate``...) and Python raises the usual
``ssl.SSLCertVerificationError``. The verdict, with its words, is kept for the thread
that ran the handshake; the listener reads it with ``verdict_for`` to log the reason.

OpenSSL calls ``_verify`` from inside ``SSL_do_handshake``, in the thread that called
it; ctypes takes the GIL for the call. ``_verify`` never raises: an unexpected error
refuses the client with ``internal_error``.
"""
from __future__ import annotations

import ctypes
import datetime as dt
import logging
import ssl
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509

import xsp_trust as trust
from xsp.tls import libssl

log = logging.getLogger("xsp.cti")

# X.509 verify codes (OpenSSL's x509_vfy.h); OpenSSL turns each into its alert.
X509_V_ERR_UNSPECIFIED = 1  # internal_error
X509_V_ERR_CERT_SIGNATURE_FAILURE = 7  # decrypt_error
X509_V_ERR_CERT_NOT_YET_VALID = 9  # bad_certificate
X509_V_ERR_CERT_HAS_EXPIRED = 10  # certificate_expired
X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT = 18  # unknown_ca
X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN = 19  # unknown_ca
X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20  # unknown_ca
X509_V_ERR_CERT_CHAIN_TOO_LONG = 22  # unknown_ca
X509_V_ERR_INVALID_CA = 79  # unknown_ca
X509_V_ERR_INVALID_PURPOSE = 26  # unsupported_certificate
X509_V_ERR_CERT_REJECTED = 28  # bad_certificate
X509_V_ERR_PERMITTED_VIOLATION = 47  # certificate_unknown (OpenSSL 3.0)
X509_V_ERR_EE_KEY_TOO_SMALL = 66  # bad_certificate
X509_V_ERR_CA_KEY_TOO_SMALL = 67  # bad_certificate
X509_V_ERR_CA_MD_TOO_WEAK = 68  # bad_certificate

# The code OpenSSL itself gives each fault, so the alert is the one it would send.
_CODE_OF_CHECK = {
    "leaf-expired": X509_V_ERR_CERT_HAS_EXPIRED, "ca-expired": X509_V_ERR_CERT_HAS_EXPIRED,
    "anchor-expired": X509_V_ERR_CERT_HAS_EXPIRED,
    "leaf-not-yet-valid": X509_V_ERR_CERT_NOT_YET_VALID,
    "ca-not-yet-valid": X509_V_ERR_CERT_NOT_YET_VALID,
    "anchor-not-yet-valid": X509_V_ERR_CERT_NOT_YET_VALID,
    "unknown-issuer": X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
    # A CA named like the issuer but with another key is no issuer at all to OpenSSL.
    "issuer-key-mismatch": X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
    "bad-signature": X509_V_ERR_CERT_SIGNATURE_FAILURE,
    "weak-digest": X509_V_ERR_CA_MD_TOO_WEAK,
    "leaf-weak-key": X509_V_ERR_EE_KEY_TOO_SMALL, "ca-weak-key": X509_V_ERR_CA_KEY_TOO_SMALL,
    "not-a-ca": X509_V_ERR_INVALID_CA, "ca-key-cert-sign": X509_V_ERR_INVALID_CA,
    "ca-eku": X509_V_ERR_INVALID_PURPOSE, "leaf-eku": X509_V_ERR_INVALID_PURPOSE,
    "leaf-key-usage": X509_V_ERR_INVALID_PURPOSE,
    "name-constraints": X509_V_ERR_PERMITTED_VIOLATION,
}

_CALLBACK_TYPE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


@dataclass(frozen=True)
class _Functions:
    set_cert_verify_callback: Callable[..., Any]
    get0_cert: Callable[..., Any]
    get0_untrusted: Callable[..., Any]
    get1_certs: Callable[..., Any]
    set_error: Callable[..., Any]
    set_error_depth: Callable[..., Any]
    issuer_name: Callable[..., Any]
    subject_name: Callable[..., Any]
    x509_free: Callable[..., Any]
    stack_count: Callable[..., Any]
    stack_value: Callable[..., Any]
    stack_free: Callable[..., Any]
    i2d_x509: Callable[..., Any]


def _functions() -> _Functions:
    pointer, integer = ctypes.c_void_p, ctypes.c_int
    return _Functions(
        libssl.function("SSL_CTX_set_cert_verify_callback", None,
                        [pointer, _CALLBACK_TYPE, pointer]),
        libssl.function("X509_STORE_CTX_get0_cert", pointer, [pointer]),
        libssl.function("X509_STORE_CTX_get0_untrusted", pointer, [pointer]),
        libssl.function("X509_STORE_CTX_get1_certs", pointer, [pointer, pointer]),
        libssl.function("X509_STORE_CTX_set_error", None, [pointer, integer]),
        libssl.function("X509_STORE_CTX_set_error_depth", None, [pointer, integer]),
        libssl.function("X509_get_issuer_name", pointer, [pointer]),
        libssl.function("X509_get_subject_name", pointer, [pointer]),
        libssl.function("X509_free", None, [pointer]),
        libssl.function("OPENSSL_sk_num", integer, [pointer]),
        libssl.function("OPENSSL_sk_value", pointer, [pointer, integer]),
        libssl.function("OPENSSL_sk_free", None, [pointer]),
        libssl.function("i2d_X509", integer,
                        [pointer, ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte))]))


_lib: _Functions | None = None
_recent = threading.local()
# A chain longer than this is refused before anything is parsed (it bounds the work a
# client can cause); OpenSSL's own default depth limit is 100.
_MAX_CHAIN = 10


@dataclass(frozen=True)
class Verdict:
    """What the check decided for one client certificate: the X.509 ``code`` set (0 when
    accepted), and the verifier's result (None when there was nothing to verify against,
    or the chain could not be read: ``words`` then say why)."""

    leaf_der: bytes
    code: int
    verification: trust.Verification | None
    words: str = ""


class _Unreadable(Exception):
    """A chain refused before it is verified, with the code and the words for it."""

    def __init__(self, code: int, words: str) -> None:
        super().__init__(words)
        self.code = code
        self.words = words


def install(context: ssl.SSLContext) -> None:
    """Judge the client certificates of ``context`` with ``trust.verify_chain`` against the
    context's trust store. Raises ``ValueError`` when it cannot: a listener whose clients
    OpenSSL alone would judge is not started."""
    global _lib
    try:
        if _lib is None:
            _lib = _functions()
        pointer = libssl.ssl_ctx(context)
    except libssl.Unreachable as exc:
        raise ValueError(f"client certificates cannot be checked in this process: {exc}") from None
    _lib.set_cert_verify_callback(pointer, _CALLBACK, None)


def verdict_for(leaf_der: bytes | None) -> Verdict | None:
    """The verdict of this thread's latest check, once, if it was about ``leaf_der`` (any
    leaf when None: the handshake watch may not have seen the certificate)."""
    verdict: Verdict | None = getattr(_recent, "verdict", None)
    _recent.verdict = None
    if verdict is None or (leaf_der is not None and verdict.leaf_der != leaf_der):
        return None
    return verdict


def code_of(verification: trust.Verification, chain: Sequence[x509.Certificate]) -> int:
    """The X.509 error OpenSSL would report for this refusal."""
    if verification.check == "self-signed":
        return (X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT if verification.subject == chain[0]
                else X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN)
    return _CODE_OF_CHECK.get(verification.check, X509_V_ERR_CERT_REJECTED)


def judge(chain: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate],
          at: dt.datetime | None = None) -> tuple[int, trust.Verification | None]:
    """The X.509 code (0: accepted) and the verification of a chain a client sent."""
    leaf = chain[0]
    if not anchors:
        self_signed = leaf.issuer == leaf.subject
        return (X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT if self_signed
                else X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY), None
    result = trust.verify_chain(leaf, anchors, untrusted=chain[1:], purpose="client", at=at)
    return (0 if result.ok else code_of(result, chain)), result


def _chain_of(store_ctx: int, leaf: int, lib: _Functions) -> list[int]:
    """The ``X509 *`` of the chain the client sent, leaf first (owned by OpenSSL)."""
    untrusted = lib.get0_untrusted(store_ctx)
    count = lib.stack_count(untrusted) if untrusted else 0
    if count <= 0:
        return [leaf] if leaf else []
    if count > _MAX_CHAIN:
        raise _Unreadable(X509_V_ERR_CERT_CHAIN_TOO_LONG,
                          f"the client sent {count} certificates; at most {_MAX_CHAIN} are "
                          "accepted")
    return [lib.stack_value(untrusted, i) for i in range(count)]


def _anchors_for(store_ctx: int, chain: list[int], lib: _Functions) -> list[bytes]:
    """The DER of every anchor in the context's store named as an issuer in ``chain``, or
    as its leaf (a client certificate trusted as it stands)."""
    names = [lib.issuer_name(cert) for cert in chain]
    if chain:
        names.append(lib.subject_name(chain[0]))
    found: dict[bytes, None] = {}
    for name in names:
        stack = lib.get1_certs(store_ctx, name) if name else None
        if not stack:
            continue
        try:
            for index in range(lib.stack_count(stack)):
                cert = lib.stack_value(stack, index)
                try:
                    found.setdefault(_der(cert, lib))
                finally:
                    lib.x509_free(cert)  # get1: each is a reference of ours
        finally:
            lib.stack_free(stack)
    return list(found)


def _der(cert: int, lib: _Functions) -> bytes:
    size = lib.i2d_x509(cert, None)
    if size <= 0:
        raise _Unreadable(X509_V_ERR_CERT_REJECTED, "a certificate the client sent cannot be "
                                                    "encoded again")
    buffer = (ctypes.c_ubyte * size)()
    cursor = ctypes.cast(buffer, ctypes.POINTER(ctypes.c_ubyte))
    lib.i2d_x509(cert, ctypes.byref(cursor))
    return bytes(buffer)


def _parse(ders: list[bytes]) -> list[x509.Certificate]:
    try:
        return [x509.load_der_x509_certificate(der) for der in ders]
    except ValueError as exc:
        raise _Unreadable(X509_V_ERR_CERT_REJECTED,
                          f"a certificate the client sent cannot be read: {exc}") from None


class _Accepted:
    """Chains accepted lately, so a client that reconnects is not judged again.

    A verdict depends only on the certificates the client sent, the anchors it was
    judged against (both part of the key, byte for byte) and the time; an accepted
    chain stays accepted until the first certificate of its path expires, so an entry
    is kept until then and no longer. Refusals are judged every time (they are rare,
    and their words name the moment). Judging costs about 90 us; a look-up 1 us.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[tuple[bytes, ...], tuple[bytes, ...]],
                                   tuple[dt.datetime, Verdict]] = OrderedDict()
        self._lock = threading.Lock()  # handshakes may run in several loops' threads

    def get(self, key: tuple[tuple[bytes, ...], tuple[bytes, ...]],
            now: dt.datetime) -> Verdict | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if now >= entry[0]:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: tuple[tuple[bytes, ...], tuple[bytes, ...]], verdict: Verdict,
            chain: Sequence[x509.Certificate]) -> None:
        verification = verdict.verification
        if verdict.code != 0 or verification is None or not verification.ok:
            return
        until = min(cert.not_valid_after_utc for cert in (*chain, *verification.chain))
        with self._lock:
            self._entries[key] = (until, verdict)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_accepted = _Accepted()


def _verify(store_ctx: int, _arg: int | None) -> int:
    lib = _lib
    if lib is None:
        return 0
    leaf_der, words = b"", ""
    chain: list[x509.Certificate] = []
    verification: trust.Verification | None = None
    verdict: Verdict | None = None
    try:
        leaf = lib.get0_cert(store_ctx)
        leaf_der = _der(leaf, lib) if leaf else b""
        pointers = _chain_of(store_ctx, leaf, lib)
        ders = tuple(_der(cert, lib) for cert in pointers)
        anchor_ders = tuple(_anchors_for(store_ctx, pointers, lib))
        key = (ders, anchor_ders)
        verdict = _accepted.get(key, dt.datetime.now(dt.timezone.utc))
        if verdict is None:
            chain = _parse(list(ders))
            code, verification = judge(chain, _parse(list(anchor_ders)))
            verdict = Verdict(leaf_der, code, verification)
            _accepted.put(key, verdict, chain)
        code = verdict.code
    except _Unreadable as refused:
        code, words = refused.code, refused.words
        verdict = None
    except Exception:  # noqa: BLE001 - never raise into OpenSSL; refuse instead
        log.exception("client certificate check failed")
        code, words = X509_V_ERR_UNSPECIFIED, "the client certificate check failed"
        verdict = None
    _recent.verdict = verdict if verdict is not None else Verdict(
        leaf_der, code, verification, words)
    if code == 0:
        return 1
    lib.set_error(store_ctx, code)
    if verification is not None and verification.subject is not None:
        depth = next((i for i, cert in enumerate(chain) if cert == verification.subject), 0)
        lib.set_error_depth(store_ctx, depth)
    return 0


_CALLBACK = _CALLBACK_TYPE(_verify)
