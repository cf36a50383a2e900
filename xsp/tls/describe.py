"""A ``SuitePlan`` in plain text lines, for the emulator command that shows it.

The engine adds the header; these lines say, per protocol and per suite in the
configured (preference) order, whether a handshake can use it and why not.
"""
from __future__ import annotations

from xsp.tls.suites import SuitePlan

_PROTOCOL_WIDTH = len("TLSv1.1")


def _protocol_lines(plan: SuitePlan) -> list[str]:
    lines = []
    for decision in plan.protocol_decisions:
        if decision.offered:
            state = "offered"
        elif not decision.allowed:
            state = "not offered: not allowed"
        else:
            state = f"not offered: {decision.reason}"
        lines.append(f"  {decision.name:<{_PROTOCOL_WIDTH}}  {state}")
    return lines


def _suite_lines(plan: SuitePlan) -> list[str]:
    if not plan.suites:
        return ["  (none configured)"]
    width = max(len(s.iana_name) for s in plan.suites)
    lines = []
    for suite in plan.suites:
        if suite.negotiable:
            state = f"negotiable with {', '.join(suite.protocols)}"
            if suite.openssl_name and suite.openssl_name != suite.iana_name:
                state += f" (OpenSSL {suite.openssl_name})"
        else:
            state = f"not negotiable: {suite.reason}"
        lines.append(f"  {suite.iana_name:<{width}}  {state}")
    return lines


def describe_effective(plan: SuitePlan) -> list[str]:
    """Protocols, then suites, then the verdict, one fact per line."""
    key = "RSA" if plan.server_key_type == "rsa" else "EC"
    lines = ["Protocols:", *_protocol_lines(plan),
             f"Cipher suites (server preference order, {key} server key):", *_suite_lines(plan)]
    if plan.weaknesses:
        lines.append(f"Weak: {'; '.join(plan.weaknesses)}. Handshakes run at OpenSSL "
                     "security level 0 to allow it; client certificates are still checked "
                     "at full strength")
    if plan.why_refusing:
        lines.append(f"Every handshake is refused: {plan.why_refusing}")
    else:
        count = len(plan.negotiable)
        lines.append(f"{count} suite{'s' if count != 1 else ''} negotiable with "
                     f"{', '.join(plan.protocols)}")
    return lines
