"""IANA cipher suite names, as the BroadWorks CLI requires them.

The registry itself is data (``iana_cipher_suites.csv`` beside this module: code point,
IANA name, TLS 1.3 flag, OpenSSL's names). The OpenSSL names are a static table on
purpose: a partner may type the OpenSSL name of a suite that the local OpenSSL does
not implement (the guide's own example) and must still be told its IANA name.

Lookups are dictionary hits; ``difflib`` only runs once a word is already refused.
Every refusal is an ``UnknownCipher`` whose ``str()`` is the one line the user sees.
"""
from __future__ import annotations

import csv
import difflib
import functools
import io
from dataclasses import dataclass
from importlib import resources

EXAMPLE = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
_DATA_FILE = "iana_cipher_suites.csv"
# Pre-standard (draft-ietf-tls-chacha20-poly1305) names lacked the PRF hash; the
# configuration guide still prints one of them, so they are accepted and upgraded.
_DRAFT_TAIL = "_SHA256"
_DRAFT_FAMILY = "_WITH_CHACHA20_POLY1305_SHA256"
# Registered values that signal something in a ClientHello and are not suites.
_SIGNALLING = ("TLS_EMPTY_RENEGOTIATION_INFO_SCSV", "TLS_FALLBACK_SCSV")
# Echoing a pasted paragraph back would break the one-line rule.
_ECHO_LIMIT = 80
_CLOSE_ENOUGH = 0.85


class UnknownCipher(ValueError):
    """A word that is not an IANA cipher suite name; ``str()`` is one line for the user."""


@dataclass(frozen=True)
class Resolution:
    iana_name: str
    notice: str | None  # one line to show the user when the stored name differs from the typed one


@dataclass(frozen=True)
class _Suite:
    code: int
    name: str
    tls13: bool
    openssl_names: tuple[str, ...]


@dataclass(frozen=True)
class _Registry:
    suites: tuple[_Suite, ...]
    by_key: dict[str, _Suite]  # upper-cased IANA name
    by_code: dict[int, _Suite]
    by_openssl: dict[str, _Suite]  # upper-cased OpenSSL name
    by_draft: dict[str, _Suite]  # upper-cased draft name


def _parse(text: str) -> tuple[_Suite, ...]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    suites = []
    for row in csv.DictReader(io.StringIO("\n".join(lines))):
        suites.append(_Suite(int(row["code"], 16), row["iana_name"], row["tls13"] == "Y",
                             tuple(row["openssl_names"].split())))
    return tuple(suites)


@functools.cache
def _registry() -> _Registry:
    text = resources.files(__package__).joinpath(_DATA_FILE).read_text(encoding="ascii")
    suites = _parse(text)
    return _Registry(
        suites=suites,
        by_key={s.name.upper(): s for s in suites},
        by_code={s.code: s for s in suites},
        by_openssl={o.upper(): s for s in suites for o in s.openssl_names},
        by_draft={s.name[:-len(_DRAFT_TAIL)].upper(): s for s in suites
                  if s.name.endswith(_DRAFT_FAMILY)},
    )


def _echo(word: str) -> str:
    word = " ".join(word.split())
    return word if len(word) <= _ECHO_LIMIT else word[:_ECHO_LIMIT] + "..."


def _closest(key: str, candidates: list[str]) -> str | None:
    found = difflib.get_close_matches(key, candidates, n=1, cutoff=_CLOSE_ENOUGH)
    return found[0] if found else None


def _refusal(word: str, key: str) -> UnknownCipher:
    registry = _registry()
    shown = _echo(word)
    if key in _SIGNALLING:
        return UnknownCipher(f"{shown} is a signalling value, not a cipher suite; "
                             f"an IANA cipher suite name is expected, e.g. {EXAMPLE}")
    if key.startswith("SSL_") and "TLS_" + key[4:] in registry.by_key:
        # Java (and so BroadWorks' JSSE side) still prints SSL_ for the oldest suites.
        iana = registry.by_key["TLS_" + key[4:]].name
        return UnknownCipher(f"{shown} is a legacy SSL name; the IANA name is {iana}")
    if "-" in key and "_" not in key:
        near = _closest(key, list(registry.by_openssl))
        if near is not None:
            suite = registry.by_openssl[near]
            return UnknownCipher(f"Unknown cipher suite {shown}; did you mean {suite.name} "
                                 f"(OpenSSL name {suite.openssl_names[0]})?")
    else:
        near = _closest(key, list(registry.by_key))
        if near is not None:
            return UnknownCipher(f"Unknown cipher suite {shown}; "
                                 f"did you mean {registry.by_key[near].name}?")
    if not shown:
        return UnknownCipher(f"An IANA cipher suite name is expected, e.g. {EXAMPLE}")
    return UnknownCipher(f"Unknown cipher suite {shown}; "
                         f"an IANA cipher suite name is expected, e.g. {EXAMPLE}")


def resolve(name: str) -> Resolution:
    """The IANA name to store for what the user typed, or ``UnknownCipher`` saying why not."""
    word = name.strip()
    key = word.upper()
    registry = _registry()
    suite = registry.by_key.get(key)
    if suite is not None:
        return Resolution(suite.name, None)
    suite = registry.by_draft.get(key)
    if suite is not None:
        return Resolution(suite.name, f"Notice: {word} stored as its IANA name {suite.name}")
    suite = registry.by_openssl.get(key)
    if suite is not None:
        raise UnknownCipher(f"{_echo(word)} is an OpenSSL name; the IANA name is {suite.name}")
    raise _refusal(word, key)


def _suite(iana_name: str) -> _Suite:
    suite = _registry().by_key.get(iana_name.strip().upper())
    if suite is None:
        raise _refusal(iana_name, iana_name.strip().upper())
    return suite


def names() -> list[str]:
    """Every IANA cipher suite name, in code point order (for completion)."""
    return [s.name for s in _registry().suites]


def code_point(iana_name: str) -> int:
    """The two-byte value on the wire, e.g. 0xC02F; ``UnknownCipher`` for other names."""
    return _suite(iana_name).code


def is_tls13(iana_name: str) -> bool:
    """True for suites that exist only in TLS 1.3 (no key exchange in the name)."""
    return _suite(iana_name).tls13


def name_for_code(code: int) -> str | None:
    """The IANA name registered for ``code``, or None (unassigned, reserved, signalling)."""
    suite = _registry().by_code.get(code)
    return suite.name if suite is not None else None


def openssl_names(iana_name: str) -> tuple[str, ...]:
    """OpenSSL's names for the suite, first the current one; empty when it has none.

    This is the static table: a name here says nothing about whether the OpenSSL on
    this host implements the suite.
    """
    return _suite(iana_name).openssl_names
