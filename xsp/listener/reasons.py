"""Plain words for a failed TLS handshake, from what OpenSSL decided and what it saw.

The words come from the ``ssl.SSLError`` reason, or the X.509 verify code of an
``ssl.SSLCertVerificationError``, made specific with what the handshake watch saw: the
versions and suites the client offered and the certificates it presented. Nothing here
decides whether to refuse; it only explains.
"""
from __future__ import annotations

import datetime as dt
import functools
import ssl
from collections.abc import Sequence

from cryptography import x509
from cryptography.x509.oid import NameOID

from xsp.listener import tlswire
from xsp.listener.tlswatch import HandshakeWatch
from xsp.tls import clientcheck

_VERSIONS = ((ssl.TLSVersion.TLSv1, ssl.Options.OP_NO_TLSv1),
             (ssl.TLSVersion.TLSv1_1, ssl.Options.OP_NO_TLSv1_1),
             (ssl.TLSVersion.TLSv1_2, ssl.Options.OP_NO_TLSv1_2),
             (ssl.TLSVersion.TLSv1_3, ssl.Options.OP_NO_TLSv1_3))
_VERSION_WORDS = {ssl.TLSVersion.TLSv1: "TLSv1", ssl.TLSVersion.TLSv1_1: "TLSv1.1",
                  ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}

# Reasons OpenSSL gives when the first bytes are not a TLS record at all.
_NOT_TLS_REASONS = {"HTTP_REQUEST", "HTTPS_PROXY_REQUEST", "WRONG_VERSION_NUMBER",
                    "UNKNOWN_PROTOCOL", "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE",
                    "UNEXPECTED_RECORD", "WRONG_SSL_VERSION"}
_SIMPLE_REASONS = {
    "PEER_DID_NOT_RETURN_A_CERTIFICATE": "no client certificate presented",
    "NO_SHARED_SIGNATURE_ALGORITHMS": "no signature algorithm in common",
    "NO_SUITABLE_KEY_SHARE": "no key exchange group in common",
    "NO_SHARED_GROUPS": "no key exchange group in common",
    "BAD_SIGNATURE": "the client's CertificateVerify signature does not verify "
                     "(its private key does not match its certificate?)",
    "DIGEST_CHECK_FAILED": "the client's Finished message does not verify",
    "INAPPROPRIATE_FALLBACK": "the client retried with a lower TLS version than it supports",
    "NO_PROTOCOLS_AVAILABLE": "no TLS version is enabled on this listener",
    "DECRYPTION_FAILED_OR_BAD_RECORD_MAC": "a record from the client failed to decrypt",
    "WRONG_SIGNATURE_TYPE": "the client signed the handshake with a signature algorithm "
                            "the server did not offer it",
    "BAD_KEY_SHARE": "the client's key share is malformed",
    "BAD_ECPOINT": "the client's key share is malformed",
    "LENGTH_MISMATCH": "the client sent a malformed handshake message",
    "BAD_PACKET_LENGTH": "the client sent a malformed handshake message",
    "BAD_EXTENSION": "the client sent a malformed extension",
    "UNSAFE_LEGACY_RENEGOTIATION_DISABLED": "the client does not support secure "
                                            "renegotiation (RFC 5746), which is required",
}
# Values in a cipher suite list that are signals, not suites (RFC 5746, RFC 7507).
_SIGNALLING_SUITES = {0x00FF, 0x5600}
_TLS13_SUITES = {0x1301: "TLS_AES_128_GCM_SHA256", 0x1302: "TLS_AES_256_GCM_SHA384",
                 0x1303: "TLS_CHACHA20_POLY1305_SHA256", 0x1304: "TLS_AES_128_CCM_SHA256",
                 0x1305: "TLS_AES_128_CCM_8_SHA256"}
# Alerts a client sends when it refuses the server's certificate.
_CLIENT_DISTRUST = {"bad_certificate", "unsupported_certificate", "certificate_revoked",
                    "certificate_expired", "certificate_unknown", "unknown_ca"}


def client_chain(watch: HandshakeWatch) -> list[x509.Certificate]:
    chain: list[x509.Certificate] = []
    for der in watch.client_chain:
        try:
            chain.append(x509.load_der_x509_certificate(der))
        except ValueError:
            break
    return chain


def subject_cn(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def _when(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _name(name: x509.Name) -> str:
    return name.rfc4514_string() or "(empty name)"


def allowed_versions(context: ssl.SSLContext) -> str:
    low, high = context.minimum_version, context.maximum_version
    allowed = [_VERSION_WORDS[version] for version, off in _VERSIONS
               if (low == ssl.TLSVersion.MINIMUM_SUPPORTED or version >= low)
               and (high == ssl.TLSVersion.MAXIMUM_SUPPORTED or version <= high)
               and not context.options & off]
    return ", ".join(allowed) or "none"


@functools.cache
def _openssl_suite_names() -> dict[int, str]:
    """IANA code -> OpenSSL name of every suite this OpenSSL knows (for client offers)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    names = {c["id"] & 0xFFFF: c["name"] for c in context.get_ciphers()}
    # Python cannot enable TLS 1.3 suites beyond OpenSSL's default three, so the two
    # CCM ones never show up above; RFC 8446 B.4 names them.
    return {**_TLS13_SUITES, **names}


def _suites(codes: Sequence[int], limit: int = 8) -> str:
    known = _openssl_suite_names()
    codes = [code for code in codes if code not in _SIGNALLING_SUITES]
    words = [known.get(code, f"0x{code:04X}") for code in codes[:limit]]
    more = f" and {len(codes) - limit} more" if len(codes) > limit else ""
    return ", ".join(words) + more


def _explain_versions(watch: HandshakeWatch, context: ssl.SSLContext) -> str:
    allowed = allowed_versions(context)
    hello = watch.client_hello
    if hello is None:
        return f"client's TLS version is not allowed (allowed: {allowed})"
    if len(hello.supported_versions) == 1:
        return f"client offered only {hello.offered_versions}; allowed: {allowed}"
    return f"client offered {hello.offered_versions}; allowed: {allowed}"


def _explain_ciphers(watch: HandshakeWatch, context: ssl.SSLContext) -> str:
    hello = watch.client_hello
    suites = context.get_ciphers()
    if hello is not None:
        # Only the suites of the versions the client offered could have been chosen.
        offered = hello.supported_versions or (hello.legacy_version,)
        wants_13 = any(v >= 0x0304 for v in offered)
        wants_12 = any(v < 0x0304 for v in offered)
        suites = [c for c in suites if (wants_13 if c["protocol"] == "TLSv1.3" else wants_12)]
    allowed = _suites([c["id"] & 0xFFFF for c in suites]) or "none"
    if hello is None:
        return f"no cipher suite in common (allowed: {allowed})"
    return (f"no cipher suite in common: client offered {_suites(hello.cipher_suites)}; "
            f"allowed: {allowed}")


def _explain_signature_algorithms(watch: HandshakeWatch) -> str:
    hello = watch.client_hello
    words = "no signature algorithm the client accepts can sign with the server's key"
    if hello is None or not hello.signature_algorithms:
        return words
    offered = [tlswire.signature_scheme_name(s) for s in hello.signature_algorithms]
    shown = ", ".join(offered[:8]) + (f" and {len(offered) - 8} more" if len(offered) > 8 else "")
    hint = ""
    if 0x0304 in hello.supported_versions and all(o.startswith("rsa_pkcs1") for o in offered):
        hint = " (TLS 1.3 signs with an RSA key only by RSA-PSS, rsa_pss_rsae_*)"
    return f"{words}: the client offered {shown}{hint}"


def _anchor_names(context: ssl.SSLContext) -> list[x509.Name]:
    names = []
    for der in context.get_ca_certs(binary_form=True):
        try:
            names.append(x509.load_der_x509_certificate(der).subject)
        except ValueError:
            continue
    return names


# Refusals whose words are drawn from the client's chain as sent, as they always were;
# every other refusal is worded by the verifier that decided it.
_WORDED_FROM_THE_CHAIN = {"leaf-expired", "ca-expired", "leaf-not-yet-valid",
                          "ca-not-yet-valid", "unknown-issuer", "issuer-key-mismatch",
                          "self-signed", "leaf-eku"}


def _explain_verdict(error: ssl.SSLCertVerificationError, chain: list[x509.Certificate],
                     anchors: list[x509.Name], now: dt.datetime,
                     verdict: clientcheck.Verdict | None) -> str:
    verification = verdict.verification if verdict is not None else None
    if verdict is not None and verification is None and verdict.words:
        return verdict.words
    if verification is None or verification.check in _WORDED_FROM_THE_CHAIN:
        return _explain_verify(error, chain, anchors, now)
    words = verification.detail
    return f"client {words}" if words.startswith("certificate ") else words


def _explain_verify(error: ssl.SSLCertVerificationError, chain: list[x509.Certificate],
                    anchors: list[x509.Name], now: dt.datetime) -> str:
    code, message = error.verify_code, error.verify_message
    leaf = chain[0] if chain else None
    top = chain[-1] if chain else None
    if leaf is None or top is None:
        return f"client certificate refused: {message} (X.509 error {code})"
    if code == 10:  # X509_V_ERR_CERT_HAS_EXPIRED
        expired = next((c for c in chain if c.not_valid_after_utc < now), leaf)
        when = _when(expired.not_valid_after_utc)
        if expired is leaf:
            return f"client certificate expired (notAfter {when})"
        return f"certificate {_name(expired.subject)} in the client's chain expired (notAfter {when})"
    if code == 9:  # X509_V_ERR_CERT_NOT_YET_VALID
        early = next((c for c in chain if c.not_valid_before_utc > now), leaf)
        when = _when(early.not_valid_before_utc)
        if early is leaf:
            return f"client certificate not yet valid (notBefore {when})"
        return f"certificate {_name(early.subject)} in the client's chain not yet valid (notBefore {when})"
    if code == 18:  # X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
        return f"self-signed client certificate {_name(leaf.subject)} is not a trust anchor"
    if code == 19:  # X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
        return f"unknown CA: the client's chain ends at {_name(top.subject)}, which is not a trust anchor"
    if code in (2, 20, 21):  # unable to get issuer certificate (locally) / verify leaf
        if top.issuer in anchors:
            return (f"unknown CA: issuer {_name(top.issuer)} has the name of a trust anchor "
                    "but not its key (a re-keyed or impostor CA)")
        return f"unknown CA: issuer {_name(top.issuer)} is not a trust anchor"
    if code == 7:  # X509_V_ERR_CERT_SIGNATURE_FAILURE
        return (f"client certificate signature does not verify with the trust anchor "
                f"{_name(leaf.issuer)}: same name, another key")
    if code == 26:  # X509_V_ERR_INVALID_PURPOSE
        return "client certificate is not for TLS client authentication (extendedKeyUsage)"
    if code in (37, 79):  # X509_V_ERR_INVALID_NON_CA, X509_V_ERR_INVALID_CA
        return f"client chain uses a certificate as a CA that is not one: {message}"
    if code == 23:  # X509_V_ERR_CERT_REVOKED
        return f"client certificate {_name(leaf.subject)} is revoked"
    return f"client certificate refused: {message} (X.509 error {code})"


def explain_not_tls(first_bytes: bytes) -> str:
    if tlswire.looks_like_http(first_bytes):
        return "not a TLS ClientHello (plain HTTP?)"
    return f"not a TLS ClientHello (first bytes {first_bytes[:8].hex(' ')})"


def explain(error: ssl.SSLError, watch: HandshakeWatch, context: ssl.SSLContext,
            first_bytes: bytes, now: dt.datetime | None = None) -> str:
    """Plain words for a handshake that OpenSSL failed with ``error``."""
    now = now or dt.datetime.now(dt.timezone.utc)
    reason = error.reason or ""
    if not tlswire.looks_like_tls(first_bytes) or (
            reason in _NOT_TLS_REASONS and watch.client_hello is None):
        return explain_not_tls(first_bytes)
    if isinstance(error, ssl.SSLCertVerificationError):
        verdict = clientcheck.verdict_for(watch.client_chain[0] if watch.client_chain else None)
        return _explain_verdict(error, client_chain(watch), _anchor_names(context), now, verdict)
    if reason in _SIMPLE_REASONS:
        return _SIMPLE_REASONS[reason]
    if reason in ("UNSUPPORTED_PROTOCOL", "VERSION_TOO_LOW", "VERSION_TOO_HIGH"):
        return _explain_versions(watch, context)
    if reason == "NO_SHARED_CIPHER":
        return _explain_ciphers(watch, context)
    if reason == "NO_SUITABLE_SIGNATURE_ALGORITHM":
        return _explain_signature_algorithms(watch)
    received = watch.last_received_alert
    if received is not None or "_ALERT_" in reason:
        name = (tlswire.alert_name(received) if received is not None
                else reason.split("_ALERT_", 1)[1].lower())
        hint = " (it does not accept the server certificate)" if name in _CLIENT_DISTRUST else ""
        return f"client ended the handshake with alert {name}{hint}"
    if isinstance(error, (ssl.SSLEOFError, ssl.SSLSyscallError)):
        return closed_during_handshake(watch)
    return f"TLS handshake failed: {reason or error}"


def closed_during_handshake(watch: HandshakeWatch) -> str:
    if watch.server_certificate_sent and not watch.client_sent_certificate_message:
        return ("client closed the connection after the server's certificate "
                "(does it trust the server certificate?)")
    return "client closed the connection during the handshake"
