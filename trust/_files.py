"""Writing certificate and key files so that a reader never sees a partial or exposed file."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

StrPath = str | os.PathLike[str]


def write_atomically(path: StrPath, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` with ``mode``, replacing any existing file in one step.

    The bytes go to a fresh temporary file in the same directory first, created by
    ``mkstemp`` with 0600 (so a key is never readable by others, not even for an instant,
    and an existing file with wider permissions is not reused); the mode is then set and
    the file renamed over the target, so a reader sees the old file or the new one.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_private(path: StrPath, data: bytes) -> None:
    write_atomically(path, data, 0o600)


def write_public(path: StrPath, data: bytes) -> None:
    write_atomically(path, data, 0o644)
