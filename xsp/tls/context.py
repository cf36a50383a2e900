"""The server ``SSLContext`` of a CTI listener, built from a ``SuitePlan``.

Everything a handshake decides is left to OpenSSL, configured to offer exactly what the
plan says: the versions in ``plan.protocols`` (a hole such as TLSv1 + TLSv1.2 without
TLSv1.1 included), the TLS 1.2-and-below suites by their OpenSSL names and the TLS 1.3
suites through ``xsp.tls.tls13``, in the configured order, which is the server's
preference. OpenSSL's defaults never survive: a plan with no TLS 1.3 suite gets an
empty TLS 1.3 list and no TLSv1.3, and a plan that refuses everything gets a context
with no version enabled, so each handshake fails inside OpenSSL.

Session resumption is OpenSSL's: stateless tickets (TLS 1.2 and the two TLS 1.3
tickets per handshake) under keys that live as long as the context, plus the server
session cache; a restart builds a new context, and old sessions then fall back to a
full handshake.
"""
from __future__ import annotations

import os
import ssl
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

from xsp.tls import buffers, clientcheck, tls13
from xsp.tls.credentials import ServerCredentials
from xsp.tls.suites import PROTOCOLS, SuitePlan

StrPath = str | os.PathLike[str]

# RFC 7919 ffdhe2048 (p and g = 2, PKCS#3), the group Java and browsers use for DHE.
# Without DH parameters OpenSSL silently skips every DHE suite.
FFDHE2048_PEM = b"""-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
"""

_VERSIONS = {"TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1,
             "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
_NO_VERSION = {"TLSv1": ssl.OP_NO_TLSv1, "TLSv1.1": ssl.OP_NO_TLSv1_1,
               "TLSv1.2": ssl.OP_NO_TLSv1_2, "TLSv1.3": ssl.OP_NO_TLSv1_3}
# set_ciphers refuses an empty TLS 1.2 list. When the plan has no TLS 1.2-and-below
# suite those versions are disabled anyway; this stand-in could not be chosen even if
# they were, since OpenSSL never selects a PSK suite without a PSK callback.
_NOTHING_BELOW_TLS13 = "PSK-AES128-GCM-SHA256"


def _set_versions(context: ssl.SSLContext, offered: Sequence[str]) -> None:
    # Python deprecates TLS 1.0/1.1 and the OP_NO_* options; the configuration asks
    # for exactly these versions, so the warnings would only be noise here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if not offered:
            context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_3
            context.options |= ssl.OP_NO_TLSv1_3
            return
        context.minimum_version = _VERSIONS[offered[0]]
        context.maximum_version = _VERSIONS[offered[-1]]
        low, high = PROTOCOLS.index(offered[0]), PROTOCOLS.index(offered[-1])
        for name in PROTOCOLS[low:high + 1]:
            if name not in offered:
                context.options |= _NO_VERSION[name]


def _set_suites(context: ssl.SSLContext, plan: SuitePlan) -> None:
    names = ":".join(plan.tls12_openssl_names) or _NOTHING_BELOW_TLS13
    context.set_ciphers(f"{names}:@SECLEVEL={plan.security_level}")
    if tls13.unavailable_reason() is None:
        tls13.set_tls13_suites(context, plan.tls13_suites)
    elif plan.tls13_suites:
        raise ValueError("the plan offers TLS 1.3 suites, which cannot be restricted here: "
                         f"{tls13.unavailable_reason()}")
    # Without the restriction OpenSSL's default TLS 1.3 suites remain listed, but
    # TLSv1.3 is then never in plan.protocols, so no handshake can reach them.
    context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE


def _load_credentials(context: ssl.SSLContext, plan: SuitePlan,
                      credentials: ServerCredentials) -> None:
    if credentials.key_type != plan.server_key_type:
        raise ValueError(f"the server certificate has an {credentials.key_type.upper()} key "
                         f"but the plan was made for {plan.server_key_type.upper()}")
    credentials.configure(context)


def _require_client_certificates(context: ssl.SSLContext, anchors: Sequence[bytes],
                                 anchor_dir: StrPath | None) -> None:
    context.verify_mode = ssl.CERT_REQUIRED
    if anchor_dir is not None:
        # Read by OpenSSL as a verification needs them (xsp.tls.capath).
        context.load_verify_locations(capath=os.fspath(anchor_dir))
    for pem in anchors:
        # cadata as str is PEM; as bytes it would be read as DER.
        context.load_verify_locations(cadata=pem.decode("ascii"))
    # Every anchor is trusted as it is, as a Java trust store does: an issuing CA
    # alone is enough, without its root.
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    # The chain is judged by trust.verify_chain, not by OpenSSL at the security level
    # the handshake needs (0 for TLSv1, TLSv1.1 or a NULL suite).
    clientcheck.install(context)


def build_server_context(plan: SuitePlan, credentials: ServerCredentials, *,
                         trust_anchor_pems: Sequence[bytes] = (),
                         trust_anchor_dir: StrPath | None = None,
                         require_client_cert: bool) -> ssl.SSLContext:
    """An ``SSLContext`` that accepts exactly what ``plan`` says, presenting
    ``credentials`` (which configure it themselves, ``xsp.tls.credentials``).

    With ``require_client_cert`` a client must present a certificate that chains to one
    of ``trust_anchor_pems`` or of the hashed directory ``trust_anchor_dir``
    (``xsp.tls.capath``); with no anchors every client is refused. Raises
    ``ValueError`` for a certificate of another key type than the plan's, and
    ``ssl.SSLError``/``OSError`` for credentials OpenSSL cannot load.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _set_versions(context, plan.protocols)
    _set_suites(context, plan)
    with tempfile.TemporaryDirectory(prefix="xsp-tls-") as tmp:
        dh_file = Path(tmp, "ffdhe2048.pem")
        dh_file.write_bytes(FFDHE2048_PEM)
        context.load_dh_params(str(dh_file))
    _load_credentials(context, plan, credentials)
    if require_client_cert:
        _require_client_certificates(context, trust_anchor_pems, trust_anchor_dir)
    else:
        context.verify_mode = ssl.CERT_NONE
    # Thousands of idle event channels must not hold 34 KiB of record buffers each.
    buffers.release_idle_buffers(context)
    return context
