"""Who is calling the Xsi-Events API: decided by ``auth``, used by the hub for ownership."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# Every client without a certificate (a plain-TCP listener, BroadWorks "Secure false")
# is this one client: nothing tells them apart, so they share channels and subscriptions.
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Client:
    client_id: str      # the subject CN of the client certificate, or ANONYMOUS
    certified: bool     # False when no certificate was presented
    # Asked again when the configuration changes: why the client is no longer allowed
    # where it was admitted (ClientIdentity, allowClientApp), or None while it still is.
    revoked: Callable[[], str | None] = field(default=lambda: None, compare=False, repr=False)

    @classmethod
    def anonymous(cls) -> Client:
        return cls(ANONYMOUS, False)
