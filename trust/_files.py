"""Writing certificate and key files so that a reader never sees a partial or exposed file."""
from __future__ import annotations

import os
import stat
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
    write_all({Path(path): (data, mode)})


def write_private(path: StrPath, data: bytes) -> None:
    write_atomically(path, data, 0o600)


def write_public(path: StrPath, data: bytes) -> None:
    write_atomically(path, data, 0o644)


def write_all(files: dict[Path, tuple[bytes, int]]) -> None:
    """Write several files, all or (barring a failed rename) none.

    Every file is first written in full to a temporary name beside its target; only
    when all are on disk are they renamed into place, so a full disk or a permission
    problem while writing leaves the directory as it was.
    """
    staged: list[tuple[str, Path]] = []
    try:
        for target, (data, mode) in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                       dir=target.parent)
            staged.append((tmp, target))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, mode)
        for tmp, target in staged:
            os.replace(tmp, target)
    except BaseException:
        for tmp, _ in staged:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        raise


def owner_only_dir(path: Path) -> str | None:
    """Create ``path`` (and missing parents) 0700 from the first ``mkdir``, or check the
    one there; why it cannot hold private keys, or None.

    A directory of someone else's, or one others may write, could have a key's name
    replaced or read by them.
    """
    missing = []
    probe = path
    while not os.path.lexists(probe) and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass
    st = os.stat(path)
    if not stat.S_ISDIR(st.st_mode):
        return f"{path} is not a directory"
    if st.st_uid != os.geteuid():
        return f"{path} belongs to uid {st.st_uid}, not to you; keys are not written there"
    if st.st_mode & 0o022:
        return (f"{path} is writable by others (mode {stat.S_IMODE(st.st_mode):04o}); keys are "
                f"not written there: make it owner-only (chmod go-w {path}) or choose another")
    return None
