"""The state directory: the configuration YAML, private files, and the writer lock.

Every acknowledged change is on disk before the CLI prints ``...Done``: ``edit()`` takes
the lock, re-reads the file (another writer may have saved since), lets the caller
change the model, and saves by writing a temporary file, fsyncing it, renaming it over
the old one and fsyncing the directory. A kill at any instant leaves the old or the
new file, never a mix. Readers need no lock: rename is atomic.

A file that no longer parses or validates is reported with its line and never
overwritten: ``edit()`` refuses to start from it.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import yaml

from xsp.config.model import Deployment, ModelError, from_data, new_deployment, to_data

CONFIG_NAME = "config.yaml"
LOCK_NAME = ".lock"
PRIVATE_DIR = "private"

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

HEADER = """\
# xsp emulated deployment. Written by xsp on every acknowledged CLI change.
# Edit by hand only while no shell or node writes to this state; an invalid
# file is reported with its line and never overwritten.
"""


class ConfigFileError(Exception):
    """The configuration file cannot be used; str() names the file, line and problem."""


@dataclass(frozen=True)
class _Stamp:
    inode: int
    mtime_ns: int
    size: int


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


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so that a reader or a crash sees old or new, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _line_of(text: str, path: str) -> int | None:
    """The 1-based line of the value at a dotted ``path`` like ``nodes[1].xsp.port``."""
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
    def __init__(self, state_dir: Path | str) -> None:
        self.dir = Path(state_dir)
        self.path = self.dir / CONFIG_NAME
        self._cache: tuple[_Stamp | None, Deployment] | None = None

    # --- reading ---------------------------------------------------------------------

    def exists(self) -> bool:
        return self.path.exists()

    def _stamp(self) -> _Stamp | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return _Stamp(st.st_ino, st.st_mtime_ns, st.st_size)

    def _parse(self, text: str) -> Deployment:
        try:
            data = yaml.load(text, Loader=_Loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{self.path}:{mark.line + 1}" if mark else str(self.path)
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigFileError(f"{where}: not valid YAML: {problem}") from None
        try:
            return from_data(Deployment, data)
        except ModelError as exc:
            line = _line_of(text, exc.path)
            where = f"{self.path}:{line}" if line else str(self.path)
            raise ConfigFileError(f"{where}: {exc}") from None

    def load(self) -> Deployment:
        """The deployment on disk; a new state is created on first use.

        Parsing is skipped while the file is unchanged, which keeps per-command latency
        low with large configurations; callers get a fresh copy each time they edit.
        """
        stamp = self._stamp()
        if stamp is None:
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            with self._locked():
                if not self.path.exists():
                    self._save(new_deployment())
            stamp = self._stamp()
        if self._cache is not None and self._cache[0] == stamp:
            return self._cache[1]
        text = self.path.read_text(encoding="utf-8")
        deployment = self._parse(text)
        self._cache = (stamp, deployment)
        return deployment

    # --- writing ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _save(self, deployment: Deployment) -> None:
        body = yaml.dump(to_data(deployment), Dumper=_Dumper, sort_keys=False,
                         default_flow_style=False, allow_unicode=True)
        atomic_write(self.path, (HEADER + body).encode("utf-8"))
        # What was just written is what the next read would parse: keep it. The object
        # is a fresh copy that no caller holds, so readers share it safely.
        self._cache = (self._stamp(), deployment)

    @contextlib.contextmanager
    def edit(self) -> Iterator[Deployment]:
        """Change the deployment under the writer lock; saved when the block ends normally.

        The caller gets its own copy parsed from disk, so an exception inside the block
        leaves both the file and every other reader's view unchanged.
        """
        with self._locked():
            self._remove_stale_temporaries()
            stamp = self._stamp()
            if stamp is None:
                deployment = new_deployment()
            elif self._cache is not None and self._cache[0] == stamp:
                # Unchanged on disk since we read it: a copy of the cache, cheaper than YAML.
                deployment = from_data(Deployment, to_data(self._cache[1]))
            else:
                deployment = self._parse(self.path.read_text(encoding="utf-8"))
            yield deployment
            # Re-validate: the caller changed plain dataclasses. The copy this makes is
            # also what readers get from the cache afterwards.
            try:
                checked = from_data(Deployment, to_data(deployment))
            except ModelError as exc:
                raise ConfigFileError(f"refusing to save an invalid configuration: {exc}") from None
            self._save(checked)

    def _remove_stale_temporaries(self) -> None:
        """A save killed before its rename leaves a temporary file behind.

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
        for tmp in stale:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    # --- private files (keys) ----------------------------------------------------------

    def private_dir(self) -> Path:
        path = self.dir / PRIVATE_DIR
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

    def write_private(self, name: str, data: bytes) -> str:
        """Store a private file (0600) and return its name relative to the state."""
        atomic_write(self.private_dir() / name, data, mode=0o600)
        return f"{PRIVATE_DIR}/{name}"

    def resolve(self, relative: str) -> Path:
        return self.dir / relative
