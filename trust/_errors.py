"""The one exception trust raises for bad input."""
from __future__ import annotations


class TrustError(ValueError):
    """Input that cannot be used; ``str()`` is one line saying why, fit to show a user."""


class PrivateKeyInBundle(TrustError):
    """A private key where only certificates belong.

    Its own type so that callers can word the refusal for their command; the key itself
    is never part of the message.
    """
