"""The state directory: the configuration, private files, and the writer lock.

Every acknowledged change is on disk before the CLI prints ``...Done``: ``edit()`` takes
the lock, re-reads the configuration when another writer saved since, gives the caller
a private copy to change, checks what changed, and saves: the sections that changed
and new certificates go to files named by their content, then ``config.yaml`` (the
root, which names them) is written to a temporary file, fsynced and renamed over the
old one (see ``xsp.config.sections``). A kill at any instant leaves the old or the new
configuration, never a mix. Readers need no lock: rename is atomic.

A save costs about the same whatever the number of trust anchors and interfaces: the
copy shares what cannot change (``xsp.config.clone``), only changed sections are
checked and written, and the root stays small.

A file that no longer parses or validates is reported with its line and never
overwritten: ``edit()`` refuses to start from it. The directory, its locks and its
files follow ``xsp.config.statedir``: owner-only, never through a symbolic link.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml

from xsp.config import sections, statedir, strictyaml
from xsp.config.clone import clone
from xsp.config.errors import ConfigFileError
from xsp.config.model import Deployment, ModelError, from_data, new_deployment
from xsp.config.statedir import StateError

__all__ = ["ConfigFileError", "StateError", "Store", "default_state_dir", "atomic_write"]

CONFIG_NAME = "config.yaml"
LOCK_NAME = ".lock"
PRIVATE_DIR = "private"
# A hand-edited file can be any size; the configuration of 1,000 anchors inline (as
# states written before sections were) is about 1.5 MB.
MAX_FILE_BYTES = 32 * 1024 * 1024
# A reader that meets a file the root no longer names reads the root again; a writer
# that saves without pause could starve it, which these attempts bound.
READ_ATTEMPTS = 20

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

HEADER = """\
# xsp emulated deployment. Written by xsp on every acknowledged CLI change.
# Edit by hand only while no shell or node writes to this state; an invalid
# file is reported with its line and never overwritten. Long lists live in
# sections/ and certificates in certs/, each named by its content: write a
# list or a PEM inline here to change it by hand.
"""


@dataclass(frozen=True)
class _Stamp:
    inode: int
    mtime_ns: int
    size: int


@dataclass
class _Loaded:
    stamp: _Stamp | None
    deployment: Deployment
    layout: sections.Layout


def default_state_dir() -> Path:
    env = os.environ.get("XSP_STATE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "xsp"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o600, *, sync_dir: bool = True) -> None:
    """Write ``data`` to ``path`` so that a reader or a crash sees old or new, never half.

    A symbolic link at ``path`` is refused, not replaced; an operating-system failure
    is one ``StateError`` line and leaves no temporary file.
    """
    statedir.refuse_link(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise statedir.os_error(exc, "write", path) from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        if sync_dir:
            _fsync_dir(path.parent)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise statedir.os_error(exc, "write", path) from None
        raise


def _write_new(path: Path, data: bytes) -> None:
    """A content-addressed file, written in place: no root names it until the save
    commits, so no reader can see it half-written, and a killed save's leftover is
    swept (or rewritten by the next save that needs it)."""
    fd = statedir.open_nofollow(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600, "write",
                                subdir=True)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except OSError as exc:
        raise statedir.os_error(exc, "write", path) from None
    finally:
        os.close(fd)


def read_state_file(path: Path, limit: int = MAX_FILE_BYTES, *, subdir: bool = False) -> bytes:
    """A state file's bytes, never through a symbolic link, refused over ``limit``.

    ``subdir``: the file is in a subdirectory of the state, which must not be a link either.
    """
    fd = statedir.open_nofollow(path, os.O_RDONLY, doing="read", subdir=subdir)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise StateError(f"{path} is {size} bytes, over the limit of {limit}; "
                             "is it the right file?")
        chunks, total = [], 0
        while chunk := os.read(fd, 1 << 20):
            total += len(chunk)
            if total > limit:
                raise StateError(f"{path} grew over the limit of {limit} bytes while read")
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise statedir.os_error(exc, "read", path) from None
    finally:
        os.close(fd)


class _RefReader:
    """Reads the files a root names, each subdirectory opened once (without following a
    link) and its files opened relative to it: a thousand certificates are a thousand
    opens, not two thousand path walks."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self._dirs: dict[str, int] = {}

    def read(self, ref: str) -> bytes:
        sub, name = ref.split("/", 1)
        directory = self._dirs.get(sub)
        if directory is None:
            directory = statedir.open_dir_nofollow(self.state / sub, "read")
            self._dirs[sub] = directory
        path = self.state / ref
        fd = statedir.open_nofollow(path, os.O_RDONLY, doing="read", dir_fd=directory)
        try:
            size = os.fstat(fd).st_size
            if size > MAX_FILE_BYTES:
                raise StateError(f"{path} is {size} bytes, over the limit of {MAX_FILE_BYTES}")
            return os.read(fd, size + 1) if size < (1 << 20) else read_state_file(path, subdir=True)
        except OSError as exc:
            raise statedir.os_error(exc, "read", path) from None
        finally:
            os.close(fd)

    def close(self) -> None:
        for fd in self._dirs.values():
            os.close(fd)
        self._dirs.clear()


def _line_of(text: str, path: str) -> int | None:
    """The 1-based line of the value at a dotted ``path`` like ``nodes[1].xsp.port``."""
    import re
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return None
    line = node.start_mark.line + 1 if node is not None else None
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if node is None:
            break
        if part.startswith("[") and isinstance(node, yaml.SequenceNode):
            index = int(part[1:-1])
            node = node.value[index] if index < len(node.value) else None
        elif isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                break
            line = match[0].start_mark.line + 1
            node = match[1]
            continue
        else:
            break
        if node is not None:
            line = node.start_mark.line + 1
    return line


class Store:
    """One state directory.

    ``create``: whether reading a state that does not exist makes it. Commands that
    only read (``doctor``, ``sim``, a shell that changes nothing) pass False: they see
    a new deployment in memory and the directory appears with the first save.
    """

    def __init__(self, state_dir: Path | str, *, create: bool = True) -> None:
        self.dir = Path(state_dir)
        self.path = self.dir / CONFIG_NAME
        self.create = create
        self._cache: _Loaded | None = None
        # The last file that failed, and why: a node asks on every request, and an
        # invalid file is not parsed again until it changes.
        self._failed: tuple[_Stamp, str] | None = None
        self._files: dict[str, Any] = {}  # content-addressed files already read
        self._lines: dict[int, Any] = {}  # JSON lines of section entries that cannot change
        self._checked = False
        self._swept = False

    # --- the directory -----------------------------------------------------------------

    def check(self) -> bool:
        """Whether the state exists; refuses one that is not a directory or not the user's."""
        exists = statedir.check_dir(self.dir)
        self._checked = exists
        return exists

    def ensure_dir(self) -> None:
        """Create the state directory owner-only, or check the one there."""
        statedir.make_dir(self.dir)
        self._checked = True

    # --- reading ---------------------------------------------------------------------

    def exists(self) -> bool:
        return self.path.exists()

    def _stamp(self) -> _Stamp | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            raise StateError(f"the state directory {self.dir} is not a directory; --state takes "
                             "a directory (a missing one is created)") from None
        except OSError as exc:
            raise statedir.os_error(exc, "read", self.path) from None
        return _Stamp(st.st_ino, st.st_mtime_ns, st.st_size)


    def _parse(self, text: str, stamp: _Stamp | None) -> _Loaded:
        try:
            data = strictyaml.load(text)
        except strictyaml.StrictYAMLError as exc:
            raise ConfigFileError(f"{self.path}:{exc.line}: {exc.problem}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{self.path}:{mark.line + 1}" if mark else str(self.path)
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigFileError(f"{where}: not valid YAML: {problem}") from None
        reader = _RefReader(self.dir)
        decoder = sections.Decoder(reader.read, self._files)
        try:
            with contextlib.closing(reader):
                resolved = decoder.resolve(Deployment, data)
            deployment = from_data(Deployment, resolved)
        except sections.DamagedFile as exc:
            raise ConfigFileError(f"{self.dir}/{exc}") from None
        except ModelError as exc:
            inside = decoder.where(exc.path)
            if inside is not None:
                ref, line, _ = inside
                where = f"{self.dir / ref}:{line}" if line else str(self.dir / ref)
            else:
                line = _line_of(text, exc.path)
                where = f"{self.path}:{line}" if line else str(self.path)
            raise ConfigFileError(f"{where}: {exc}") from None
        self._files = decoder.cache
        return _Loaded(stamp, deployment, decoder.layout(deployment))

    def _read(self) -> _Loaded:
        """What is on disk now, through the cache while ``config.yaml`` is unchanged."""
        if not self._checked and not self.check():
            return _Loaded(None, new_deployment(), sections.Layout())
        for _ in range(READ_ATTEMPTS):
            stamp = self._stamp()
            if stamp is None:
                return _Loaded(None, new_deployment(), sections.Layout())
            if self._cache is not None and self._cache.stamp == stamp:
                return self._cache
            if self._failed is not None and self._failed[0] == stamp:
                raise ConfigFileError(self._failed[1])
            try:
                raw = read_state_file(self.path)
            except FileNotFoundError:
                continue  # removed between the stat and the open
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ConfigFileError(f"{self.path}: not valid UTF-8 (byte {exc.start})") from None
            try:
                loaded = self._parse(text, stamp)
            except sections.MissingFile as missing:
                if self._stamp() != stamp:
                    continue  # a writer replaced the root meanwhile: read the new one
                line = _line_of(text, missing.path)
                error = ConfigFileError(f"{self.path}:{line}: {missing.path}: the file {missing.ref} "
                                        "it names is missing from the state")
                self._failed = (stamp, str(error))
                raise error from None
            except ConfigFileError as exc:
                self._failed = (stamp, str(exc))
                raise
            self._cache = loaded
            return loaded
        raise ConfigFileError(f"{self.path} kept changing while read; try again")

    def load(self) -> Deployment:
        """The deployment on disk (a new one when the state does not exist yet).

        Parsing is skipped while the file is unchanged, which keeps per-command latency
        low with large configurations; callers must not change what they get (``edit``
        gives a private copy).
        """
        loaded = self._read()
        if loaded.stamp is None and self.create:
            with self._locked():
                if self._stamp() is None:
                    self._save(loaded.deployment, loaded)
            loaded = self._read()
        return loaded.deployment

    # --- writing ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.ensure_dir()
        fd = statedir.open_lock(self.dir / LOCK_NAME)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _save(self, deployment: Deployment, previous: _Loaded) -> None:
        encoder = sections.Encoder(previous.layout, self._lines)
        root = encoder.root(deployment)
        body = yaml.dump(root, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                         allow_unicode=True)
        written: list[Path] = []
        try:
            checked: set[str] = set()
            for ref, data in encoder.new_files.items():
                sub = ref.split("/", 1)[0]
                if sub not in checked:
                    statedir.private_subdir(self.dir, sub)
                    checked.add(sub)
                target = self.dir / ref
                written.append(target)
                _write_new(target, data)
            try:
                for directory in {path.parent for path in written}:
                    _fsync_dir(directory)  # the new files are durable before the root names them
            except OSError as exc:
                raise statedir.os_error(exc, "write", self.dir) from None
            atomic_write(self.path, (HEADER + body).encode("utf-8"))
        except BaseException:
            # Not committed: what this save wrote is named by nothing.
            for path in written:
                with contextlib.suppress(OSError):
                    path.unlink()
            raise
        self._lines = encoder.lines
        # What was just written is what the next read would parse: keep it. No caller
        # changes it after the block, so readers share it safely.
        self._cache = _Loaded(self._stamp(), deployment, encoder.layout)
        for ref in previous.layout.files - encoder.layout.files:
            with contextlib.suppress(OSError):
                os.unlink(self.dir / ref)

    def _validated(self, working: Deployment, previous: _Loaded) -> Deployment:
        """``working`` checked as a load would check it; what changed is checked in full,
        what did not (the same entries as before) is trusted."""
        data, lists = sections.skeleton(working)
        try:
            checked = from_data(Deployment, data)
            for path, (items, hint) in lists.items():
                before = previous.layout.sections.get(path)
                old = before[1] if before is not None else None
                if old is not None and (old is items or old == items):
                    value = old
                else:
                    value = sections.check_items(items, hint, path, old)
                sections.place(checked, path, value)
        except ModelError as exc:
            raise ConfigFileError(f"refusing to save an invalid configuration: {exc}") from None
        return checked

    @contextlib.contextmanager
    def edit(self) -> Iterator[Deployment]:
        """Change the deployment under the writer lock; saved when the block ends normally.

        The caller gets its own copy, so an exception inside the block leaves both the
        files and every other reader's view unchanged. The copy must not be kept after
        the block: it becomes what readers share.
        """
        with self._locked():
            self._remove_stale_files()
            current = self._read()
            working = clone(current.deployment)
            yield working
            self._save(self._validated(working, current), current)

    def _remove_stale_files(self) -> None:
        """A save killed before its rename leaves a temporary file behind, and maybe
        sections and certificates no root names.

        Under the lock no configuration save is live, so those all go. Private files
        (keys, chain files) are written without this lock, by shells and by the node:
        only their temporaries older than a minute are certainly abandoned.
        """
        stale = list(self.dir.glob(f".{CONFIG_NAME}.*.tmp"))
        cutoff = time.time() - 60
        for tmp in (self.dir / PRIVATE_DIR).glob(".*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                if tmp.stat().st_mtime < cutoff:
                    stale.append(tmp)
        if not self._swept:
            # Once per process: what a killed save wrote and no root names.
            named = self._read().layout.files
            for sub in (sections.SECTIONS_DIR, sections.CERTS_DIR):
                with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                    for entry in os.scandir(self.dir / sub):
                        if f"{sub}/{entry.name}" not in named and entry.is_file(follow_symlinks=False):
                            stale.append(Path(entry.path))
            self._swept = True
        for tmp in stale:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    # --- private files (keys) ----------------------------------------------------------

    def private_dir(self) -> Path:
        self.ensure_dir()
        return statedir.private_subdir(self.dir, PRIVATE_DIR)

    def write_private(self, name: str, data: bytes) -> str:
        """Store a private file (0600) and return its name relative to the state."""
        atomic_write(self.private_dir() / name, data, mode=0o600)
        return f"{PRIVATE_DIR}/{name}"

    def resolve(self, relative: str) -> Path:
        return self.dir / relative
