"""Typed CLI parameters: each type validates a word and offers completions.

Types never see the configuration directly; values that depend on it (configured
interface IPs, trust aliases, ...) come through a ``Sources`` callable that the engine
supplies, so this package imports nothing from the emulator.
"""
from __future__ import annotations

import datetime
import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Protocol

# source name -> the current values, e.g. "cti_interfaces" -> ["10.155.6.175"]
Sources = Callable[[str], list[str]]

PROTOCOL_NAMES = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")


class ParamError(ValueError):
    """A word is not a valid value; str() is the one line the user sees."""


@dataclass(frozen=True)
class Parsed:
    value: Any
    notice: str | None = None


class ParamType(Protocol):
    def parse(self, word: str, sources: Sources) -> Parsed: ...
    def describe(self) -> str: ...
    def complete(self, prefix: str, sources: Sources) -> list[str]: ...


def _prefixed(values: list[str], prefix: str) -> list[str]:
    low = prefix.lower()
    return [v for v in values if v.lower().startswith(low)]


@dataclass(frozen=True)
class StringType:
    min_len: int = 1
    max_len: int = 80
    label: str = "String"

    def parse(self, word: str, sources: Sources) -> Parsed:
        if not self.min_len <= len(word) <= self.max_len:
            raise ParamError(f"must be {self.min_len} to {self.max_len} characters, got {len(word)}")
        return Parsed(word)

    def describe(self) -> str:
        return f"{self.label} {{{self.min_len} to {self.max_len} characters}}"

    def complete(self, prefix: str, sources: Sources) -> list[str]:
        return []


@dataclass(frozen=True)
class FileType(StringType):
    min_len: int = 1
    max_len: int = 255

    def parse(self, word: str, sources: Sources) -> Parsed:
        super().parse(word, sources)
        if "\x00" in word:
            raise ParamError("a file path cannot hold a NUL character")
        try:
            # ~ and ~user as a shell would; the value is the path to open.
            return Parsed(os.path.expanduser(word))
        except (RuntimeError, KeyError):
            raise ParamError(f"{word.split('/')[0]} is not a known user's home directory") from None

    def complete(self, prefix: str, sources: Sources) -> list[str]:
        return sources("files:" + prefix)


@dataclass(frozen=True)
class IntType:
    low: int
    high: int

    def parse(self, word: str, sources: Sources) -> Parsed:
        try:
            value = int(word, 10)
        except ValueError:
            raise ParamError(f"{word} is not a number; expected {self.low} to {self.high}") from None
        if not self.low <= value <= self.high:
            raise ParamError(f"{value} is out of range; expected {self.low} to {self.high}")
        return Parsed(value)

    def describe(self) -> str:
        return f"Integer {{{self.low} to {self.high}}}"

    def complete(self, prefix: str, sources: Sources) -> list[str]:
        return []


@dataclass(frozen=True)
class ChoiceType:
    values: tuple[str, ...]

    def parse(self, word: str, sources: Sources) -> Parsed:
        for value in self.values:
            if value.lower() == word.lower():
                return Parsed(value)
        raise ParamError(f"{word} is not one of {{{', '.join(self.values)}}}")

    def describe(self) -> str:
        return f"Choice = {{{', '.join(self.values)}}}"

    def complete(self, prefix: str, sources: Sources) -> list[str]:
        return _prefixed(list(self.values), prefix)


@dataclass(frozen=True)
class BoolType(ChoiceType):
    values: tuple[str, ...] = ("false", "true")

    def parse(self, word: str, sources: Sources) -> Parsed:
        return Parsed(super().parse(word, sources).value == "true")


@dataclass(frozen=True)
class IPType:
    # When set, completions come from these configured values, and unless
    # ``must_exist`` is false the address must be one of them.
    source: str | None = None
    must_exist: bool = True

    def parse(self, word: str, sources: Sources) -> Parsed:
        try:
            address = ipaddress.ip_address(word)
        except ValueError:
            raise ParamError(f"{word} is not an IP address; expected an IPv4 or IPv6 address") from None
        if getattr(address, "scope_id", None):
            raise ParamError(f"{word}: an interface address takes no %zone; expected an IPv4 or IPv6 address")
        canonical = str(address)
        if self.source is not None and self.must_exist:
            configured = sources(self.source)
            if canonical not in configured:
                known = ", ".join(configured) if configured else "none configured"
                raise ParamError(f"{canonical} is not a configured CTIServer interface ({known})")
        return Parsed(canonical)

    def describe(self) -> str:
        return "IP Address"

    def complete(self, prefix: str, sources: Sources) -> list[str]:
        return _prefixed(sources(self.source or "host_ips"), prefix)


@dataclass(frozen=True)
class ProtocolType:
    def parse(self, word: str, sources: Sources) -> Parsed:
        for name in PROTOCOL_NAMES:
            if name.lower() == word.lower():
                return Parsed(name)
        raise ParamError(f"{word} is not a protocol name; expected one of {', '.join(PROTOCOL_NAMES)}")

    def describe(self) -> str:
        return f"Choice = {{{', '.join(PROTOCOL_NAMES)}}}"

    def complete(self, prefix: str, sources: Sources) -> list[str]:
        return _prefixed(list(PROTOCOL_NAMES), prefix)


@dataclass(frozen=True)
class CipherType:
    def parse(self, word: str, sources: Sources) -> Parsed:
        from xsp_cli_contexts import ciphers  # the registry loads on first use
        try:
            resolution = ciphers.resolve(word)
        except ciphers.UnknownCipher as exc:
            raise ParamError(str(exc)) from None
        return Parsed(resolution.iana_name, resolution.notice)

    def describe(self) -> str:
        return "String {1 to 80 characters} (IANA cipher suite name)"

    def complete(self, prefix: str, sources: Sources) -> list[str]:
        from xsp_cli_contexts import ciphers
        return _prefixed(ciphers.names(), prefix)


@dataclass(frozen=True)
class RefType(StringType):
    """A value that names an existing entry (an alias to delete, an identity)."""
    source: str = ""

    def complete(self, prefix: str, sources: Sources) -> list[str]:
        return _prefixed(sources(self.source), prefix)


@dataclass(frozen=True)
class PatternType:
    """A word that must match a rule given in words (an Instance ID, a device name)."""
    regex: str
    expect: str
    upper: bool = False

    def parse(self, word: str, sources: Sources) -> Parsed:
        value = word.upper() if self.upper else word
        if len(value) > 1024 or not re.fullmatch(self.regex, value):
            raise ParamError(f"{word} is not {self.expect}")
        return Parsed(value)

    def describe(self) -> str:
        return f"String ({self.expect})"

    def complete(self, prefix: str, sources: Sources) -> list[str]:
        return []


@dataclass(frozen=True)
class DateType:
    def parse(self, word: str, sources: Sources) -> Parsed:
        try:
            return Parsed(datetime.date.fromisoformat(word).isoformat())
        except ValueError:
            raise ParamError(f"{word} is not a date; expected YYYY-MM-DD") from None

    def describe(self) -> str:
        return "Date (YYYY-MM-DD)"

    def complete(self, prefix: str, sources: Sources) -> list[str]:
        return []


@dataclass(frozen=True)
class PasswordType(StringType):
    label: str = "Password"


def make_type(name: str, spec: dict[str, Any]) -> ParamType:
    if name == "string":
        return StringType(spec.get("min", 1), spec.get("max", 80))
    if name == "file":
        return FileType()
    if name == "ref":
        return RefType(spec.get("min", 1), spec.get("max", 80), source=spec["source"])
    if name == "int":
        return IntType(spec["min"], spec["max"])
    if name == "port":
        return IntType(1, 65535)
    if name == "bool":
        return BoolType()
    if name == "choice":
        return ChoiceType(tuple(spec["values"]))
    if name == "ip":
        return IPType(spec.get("source"), spec.get("must_exist", True))
    if name == "protocol":
        return ProtocolType()
    if name == "cipher":
        return CipherType()
    if name == "pattern":
        return PatternType(spec["regex"], spec["expect"], bool(spec.get("upper", False)))
    if name == "date":
        return DateType()
    if name == "password":
        return PasswordType(spec.get("min", 1), spec.get("max", 128))
    raise ValueError(f"unknown parameter type {name!r}")
