"""The state directory's safety rules, in one place: owner-only, never through a link.

A state holds private keys and a control socket that runs commands, so it must be
nobody else's to change: the directory is created 0700 from its first ``mkdir`` (no
umask window), and a directory or lock file that belongs to another user or that
others may write is refused, as is a state file that is a symbolic link (it would
point reads and writes at a file someone else chose). Every refusal and every
operating-system failure becomes ``StateError``: one line saying what, where, and
what to do.
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from xsp.config.errors import ConfigFileError

# What to do about an operating-system error, by errno; the line already says what failed.
_ADVICE = {
    errno.ENOSPC: "free some space on that file system and repeat",
    errno.EDQUOT: "the disk quota is used up; free some space and repeat",
    errno.EACCES: "check its permissions (a state must be yours and writable by you), "
                  "or choose another with --state",
    errno.EPERM: "check its permissions (a state must be yours and writable by you), "
                 "or choose another with --state",
    errno.EROFS: "the file system is read-only; choose another state with --state",
    errno.EFBIG: "a file-size limit (ulimit -f) stopped the write; raise it and repeat",
    errno.ENOTDIR: "a part of the path is a file, not a directory; give a directory",
}


class StateError(ConfigFileError):
    """The state directory or one of its files cannot be used; str() is the one line."""


def os_error(exc: OSError, doing: str, path: Path | str | None = None) -> StateError:
    """``exc`` as one line: ``cannot <doing> <path>: <reason>; <advice>``."""
    where = path if path is not None else exc.filename
    if exc.errno == errno.ELOOP and where:
        return symlink_refused(where)
    reason = exc.strerror or str(exc)
    advice = _ADVICE.get(exc.errno or 0)
    text = f"cannot {doing} {where}: {reason}" if where else f"cannot {doing}: {reason}"
    return StateError(f"{text}; {advice}" if advice else text)


def symlink_refused(path: Path | str) -> StateError:
    return StateError(f"{path} is a symbolic link; state files are never followed through one: "
                      "remove the link")


def _refuse_foreign(path: Path, st: os.stat_result, what: str) -> None:
    uid = os.geteuid()
    if st.st_uid != uid:
        raise StateError(f"{what} {path} belongs to uid {st.st_uid}, not to you (uid {uid}); "
                         "refusing to use a state another user controls")
    if st.st_mode & 0o022:
        raise StateError(f"{what} {path} is writable by others (mode {stat.S_IMODE(st.st_mode):04o}); "
                         f"make it owner-only (chmod go-w {path}) or choose another --state")


def check_dir(path: Path, what: str = "the state directory") -> bool:
    """Whether ``path`` exists; refuses a non-directory or someone else's directory.

    The state directory itself may be reached through a symbolic link of its owner's
    (a home directory moved elsewhere); what it resolves to must be the user's own.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise os_error(exc, "use", path) from None
    if not stat.S_ISDIR(st.st_mode):
        raise StateError(f"{what} {path} is not a directory; --state takes a directory "
                         "(a missing one is created)")
    _refuse_foreign(path, st, what)
    return True


def make_dir(path: Path, what: str = "the state directory") -> None:
    """Create ``path`` and any missing parents owner-only (0700) from the first syscall."""
    if check_dir(path, what):
        return
    missing = []
    probe = path
    while not os.path.lexists(probe) and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass  # another process made it meanwhile; checked below
        except OSError as exc:
            raise os_error(exc, "create", directory) from None
    check_dir(path, what)


def private_subdir(state: Path, name: str) -> Path:
    """``state/name`` as a real directory of the user's, created 0700 when missing."""
    path = state / name
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise os_error(exc, "create", path) from None
        st = os.lstat(path)
    except OSError as exc:
        raise os_error(exc, "use", path) from None
    if stat.S_ISLNK(st.st_mode):
        raise symlink_refused(path)
    if not stat.S_ISDIR(st.st_mode):
        raise StateError(f"{path} is not a directory; remove it (the state recreates it)")
    _refuse_foreign(path, st, "the directory")
    return path


def open_dir_nofollow(path: Path, doing: str = "open") -> int:
    """A descriptor of the directory ``path``, refused when it is a symbolic link."""
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ENOTDIR and os.path.islink(path):
            raise symlink_refused(path) from None  # O_DIRECTORY's answer to a link
        raise os_error(exc, doing, path) from None


def open_nofollow(path: Path, flags: int, mode: int = 0o600, doing: str = "open",
                  subdir: bool = False, dir_fd: int | None = None) -> int:
    """``os.open`` that never follows a symbolic link and never blocks on a FIFO.

    With ``subdir`` the file's directory (a subdirectory of the state) is not followed
    through a link either; ``dir_fd`` is that directory, already opened so. A missing
    file raises ``FileNotFoundError`` as it is; any other failure is one line.
    """
    directory = open_dir_nofollow(path.parent, doing) if subdir and dir_fd is None else None
    relative_to = directory if directory is not None else dir_fd
    try:
        fd = os.open(path.name if relative_to is not None else path,
                     flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, mode, dir_fd=relative_to)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise os_error(exc, doing, path) from None
    finally:
        if directory is not None:
            os.close(directory)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise StateError(f"{path} is not a regular file; remove it (the state recreates it)")
    os.set_blocking(fd, True)
    return fd


def open_lock(path: Path) -> int:
    """The lock file ``path``, created 0600; refused when it is someone else's."""
    fd = open_nofollow(path, os.O_RDWR | os.O_CREAT, 0o600, "open the lock")
    try:
        _refuse_foreign(path, os.fstat(fd), "the lock")
    except StateError:
        os.close(fd)
        raise
    return fd


def refuse_link(path: Path) -> None:
    """Refuse to replace ``path`` when it is a symbolic link (a save would drop the link)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise os_error(exc, "use", path) from None
    if stat.S_ISLNK(st.st_mode):
        raise symlink_refused(path)
