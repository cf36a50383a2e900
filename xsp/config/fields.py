"""What the settings of every node kind share: the error a bad value raises, how a
message quotes a value, and the field markers the store reads (xsp.config.sections).

Its own module so that a node kind's settings module (xsp.config.cucm) and the model
that holds them all can both use it without importing each other.
"""
from __future__ import annotations

from typing import Any

# Field markers read by the store (xsp.config.sections), so that a new node kind's
# settings get the same on-disk treatment by marking its fields, without store changes:
# SECTION: a list kept in a file of its own, rewritten only when it changes;
# CERTIFICATE: PEM text kept once per content as certs/<sha256>.pem.
SECTION = {"xsp.store": "section"}
CERTIFICATE = {"xsp.store": "certificate"}
# OMIT_IF_NONE: a node kind's settings, left out of the document on the other kinds, so a
# state written before that kind existed reads and writes as it did.
OMIT_IF_NONE = {"xsp.omit": "none"}


def omitted(f: Any, value: Any) -> bool:
    """A field ``f`` of a model class whose ``value`` is not written."""
    return value is None and f.metadata.get("xsp.omit") == "none"

# Messages quote a value only up to this many characters: a hand-edited file can hold
# a megabyte where a port belongs.
SHOWN_VALUE = 60


def show(value: Any) -> str:
    """``repr(value)``, cut to ``SHOWN_VALUE`` characters with its full length said."""
    text = repr(value)
    if len(text) <= SHOWN_VALUE:
        return text
    return f"{text[:SHOWN_VALUE]}... ({len(text)} characters)"


class ModelError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message
