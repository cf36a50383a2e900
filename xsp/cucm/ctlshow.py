"""A CTL or ITL file as ``show ctl`` and ``xsp cucm ctl show`` print it, verified.

Both print the same lines for the same bytes, so what the node's CLI shows can be
compared with a file a client downloaded.
"""
from __future__ import annotations

import datetime as dt
import hashlib

import xsp_trust as trust


def ctl_report(data: bytes) -> tuple[list[str], bool]:
    """The lines to print, and whether the file verified."""
    lines = ["The checksum value of the CTL file:", f"{hashlib.md5(data).hexdigest()}(MD5)",
             f"{hashlib.sha1(data).hexdigest()}(SHA1)", "", f"Length of CTL file: {len(data)}"]
    try:
        parsed = trust.read_ctl(data)
    except trust.CtlError as exc:
        return [*lines, f"The CTL file cannot be read: {exc}"], False
    written = dt.datetime.fromtimestamp(parsed.timestamp, dt.timezone.utc)
    lines += [f"The CTL File was last modified on {written:%a %b %d %H:%M:%S UTC %Y}", "",
              "Parse CTL File", "----------------", "", *trust.describe_ctl(parsed), ""]
    try:
        trust.verify_ctl(data)
    except trust.CtlError as exc:
        return [*lines, f"Signature: NOT verified: {exc}"], False
    signer = parsed.signer_record()
    assert signer is not None  # verify_ctl found it
    return [*lines, f"Signature: verified with the SAST record {signer.subject_name} "
                    f"(serial {signer.serial_number.hex().upper()})"], True
