"""How a deployment lies on disk: a small root, its sections, and certificates by content.

``config.yaml`` is the root and the commit point. It holds every setting, except:

- a field marked ``SECTION`` (a large list: trust anchors, interfaces, users) holds the
  name of a file ``sections/<field>-<hash>.json`` with the list, one entry per line;
- a field marked ``CERTIFICATE`` holds ``certs/<sha256>.pem``, the PEM text kept once
  per content.

Both kinds of file are named by their content and never change once written, so a
save writes only the sections that changed, and then the root: one rename commits it
all, and a kill at any instant leaves the old or the new state. Files the new root
no longer names are removed after the rename; a reader that meets a removed file has
read an older root, and reads the root again.

Either field may also hold its value inline, as a state written before sections
existed does (the whole list, the PEM text) or as a hand edit may: such a state
loads as it is and is converted by its next save. Nothing here knows the model's
classes: a field's marker decides, so a new node kind's settings fit by marking them.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import typing
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xsp.config.fields import omitted
from xsp.config.model import CERTIFICATE, SECTION, ModelError, _schema, show, to_data

SECTIONS_DIR = "sections"
CERTS_DIR = "certs"
MARKER = next(iter(SECTION))
SECTION_REF = re.compile(r"sections/([a-z0-9_]+)-([0-9a-f]{16})\.json")
CERT_REF = re.compile(r"certs/([0-9a-f]{64})\.pem")


class MissingFile(Exception):
    """A file the root names is gone: the root was replaced meanwhile, or damaged."""

    def __init__(self, ref: str, path: str) -> None:
        super().__init__(ref)
        self.ref = ref
        self.path = path


class DamagedFile(Exception):
    """A content-addressed file whose content no longer matches its name."""


@dataclass
class Layout:
    """What a root names: each section (by its dotted path) and every file."""
    # path -> (file, the list it holds in the deployment this layout belongs to)
    sections: dict[str, tuple[str, list[Any]]] = field(default_factory=dict)
    # section file -> the certificate files its entries name
    section_certs: dict[str, frozenset[str]] = field(default_factory=dict)
    files: set[str] = field(default_factory=set)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _marker(f: dataclasses.Field) -> str | None:
    return f.metadata.get(MARKER)


def _unwrap(tp: Any) -> Any:
    """``X | None`` -> X."""
    if typing.get_origin(tp) in (types.UnionType, typing.Union):
        options = [t for t in typing.get_args(tp) if t is not type(None)]
        return options[0] if len(options) == 1 else tp
    return tp


def _item_type(tp: Any) -> Any:
    tp = _unwrap(tp)
    return typing.get_args(tp)[0] if typing.get_origin(tp) is list else None


def _frozen(tp: Any) -> bool:
    return bool(getattr(getattr(tp, "__dataclass_params__", None), "frozen", False))


def _fields(obj: Any) -> tuple[dict[str, Any], dict[str, dataclasses.Field]]:
    """Type hints and YAML field names of a model object's class."""
    cls: type = type(obj)
    return _schema(cls)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- writing -----------------------------------------------------------------------------

class Encoder:
    """The root's data for a deployment, and the new files it needs.

    Sections equal to the previous layout's keep their file; entries that cannot change
    (frozen dataclasses) keep the JSON line made for them by an earlier save.
    """

    def __init__(self, previous: Layout, lines: dict[int, tuple[Any, str, frozenset[str]]]) -> None:
        self.previous = previous
        self.layout = Layout()
        self.new_files: dict[str, bytes] = {}
        self._old_lines = lines
        self.lines: dict[int, tuple[Any, str, frozenset[str]]] = {}
        self._certs: set[str] = set()

    def root(self, deployment: Any) -> Any:
        data = self._data(deployment, "")
        self.layout.files |= self._certs
        return data

    def _data(self, obj: Any, path: str) -> Any:
        if dataclasses.is_dataclass(obj):
            out = {}
            _, fields = _fields(obj)
            for name, f in fields.items():
                value = getattr(obj, f.name)
                kind = _marker(f)
                if kind == "section":
                    out[name] = self._section(value, _join(path, name), name, type(obj), f.name)
                elif kind == "certificate":
                    out[name] = self._certificate(value)
                else:
                    out[name] = self._data(value, _join(path, name))
            return out
        if isinstance(obj, list):
            return [self._data(v, f"{path}[{i}]") for i, v in enumerate(obj)]
        return obj

    def _certificate(self, pem: Any) -> Any:
        if not isinstance(pem, str) or not pem:
            return pem
        data = pem.encode("utf-8")
        ref = f"{CERTS_DIR}/{sha256(data)}.pem"
        if ref not in self.previous.files:
            self.new_files[ref] = data
        self._certs.add(ref)
        return ref

    def _section(self, items: list[Any], path: str, name: str, owner: type, attribute: str) -> Any:
        if not items:
            return []  # an empty list reads better inline than as a file
        previous = self.previous.sections.get(path)
        if previous is not None and (previous[1] is items or previous[1] == items):
            ref = previous[0]
            certs = self.previous.section_certs.get(ref, frozenset())
            # Entries keep their lines for the next change of this section.
            for item in items:
                kept = self._old_lines.get(id(item))
                if kept is not None and kept[0] is item:
                    self.lines[id(item)] = kept
        else:
            frozen = _frozen(_item_type(_schema(owner)[0][attribute]))
            lines: list[str] = []
            all_certs: set[str] = set()
            old_lines, new_lines = self._old_lines, self.lines
            for i, item in enumerate(items):
                # Inline for the common case, an entry unchanged since the last save: a
                # section of a thousand entries is walked on every change to one of them.
                kept = old_lines.get(id(item)) if frozen else None
                if kept is not None and kept[0] is item:
                    new_lines[id(item)] = kept
                    line, certs = kept[1], kept[2]
                else:
                    line, certs = self._line(item, f"{path}[{i}]", frozen)
                lines.append(line)
                if certs:
                    all_certs |= certs
            body = ("[\n" + ",\n".join(lines) + "\n]\n").encode("utf-8")
            ref = f"{SECTIONS_DIR}/{name}-{sha256(body)[:16]}.json"
            certs = frozenset(all_certs)
            if ref not in self.previous.files:
                self.new_files[ref] = body
        self.layout.sections[path] = (ref, items)
        self.layout.section_certs[ref] = certs
        self.layout.files.add(ref)
        self._certs |= certs
        return ref

    def _line(self, item: Any, path: str, frozen: bool) -> tuple[str, frozenset[str]]:
        outer, self._certs = self._certs, set()
        try:
            line = json.dumps(self._data(item, path), ensure_ascii=False)
            certs = frozenset(self._certs)
        finally:
            self._certs = outer
        if frozen:
            self.lines[id(item)] = (item, line, certs)
        return line, certs


def skeleton(deployment: Any) -> tuple[Any, dict[str, tuple[list[Any], Any]]]:
    """``to_data`` with every section emptied, and each section's list and item type by path.

    Validating the skeleton checks every setting outside the sections (and the model's
    own rules across them) at the cost of a small document.
    """
    sections: dict[str, tuple[list[Any], Any]] = {}

    def walk(obj: Any, path: str) -> Any:
        if dataclasses.is_dataclass(obj):
            hints, fields = _fields(obj)
            out: dict[str, Any] = {}
            for name, f in fields.items():
                value = getattr(obj, f.name)
                if omitted(f, value):
                    continue
                if _marker(f) == "section":
                    sections[_join(path, name)] = (value, hints[f.name])
                    out[name] = []
                else:
                    out[name] = walk(value, _join(path, name))
            return out
        if isinstance(obj, list):
            return [walk(v, f"{path}[{i}]") for i, v in enumerate(obj)]
        return obj

    return walk(deployment, ""), sections


def place(root: Any, path: str, value: Any) -> None:
    """Set the field at dotted ``path`` (YAML names, ``[i]`` indexes) of a model object."""
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    obj = root
    for part in parts[:-1]:
        obj = obj[int(part[1:-1])] if part.startswith("[") else getattr(obj, _fields(obj)[1][part].name)
    setattr(obj, _fields(obj)[1][parts[-1]].name, value)


def check_items(items: list[Any], hint: Any, path: str, previous: list[Any] | None) -> list[Any]:
    """The section's entries, checked; entries that cannot change and were already in
    the previous list are trusted as they are."""
    from xsp.config.model import _convert
    item = _item_type(hint)
    if not _frozen(item):
        return _convert(hint, to_data(items), path)
    known = {id(x) for x in previous} if previous is not None else set()
    return [x if id(x) in known else _convert(item, to_data(x), f"{path}[{i}]")
            for i, x in enumerate(items)]


# --- reading -----------------------------------------------------------------------------

class Decoder:
    """The root's data with every file it names read in; what it named, as a ``Layout``."""

    def __init__(self, read: typing.Callable[[str], bytes], cache: dict[str, Any]) -> None:
        self._read = read
        self._old_cache = cache
        self.cache: dict[str, Any] = {}  # file -> its parsed content, for the next load
        self.section_paths: dict[str, str] = {}  # section path -> file
        self.section_certs: dict[str, set[str]] = {}
        self.files: set[str] = set()
        self._certs: set[str] | None = None

    def resolve(self, cls: type, data: Any, path: str = "") -> Any:
        if not isinstance(data, dict) or not dataclasses.is_dataclass(cls):
            return data
        hints, fields = _schema(cls)
        out = {}
        for name, value in data.items():
            f = fields.get(name) if isinstance(name, str) else None
            if f is None:
                out[name] = value  # from_data names the unknown setting
                continue
            here = _join(path, name)
            kind = _marker(f)
            if kind == "section" and isinstance(value, str):
                value = self._section(value, here)
            elif kind == "certificate" and isinstance(value, str) and CERT_REF.fullmatch(value):
                value = self._certificate(value, here)
            tp = _unwrap(hints[f.name])
            item = _item_type(tp)
            if item is not None and isinstance(value, list) and dataclasses.is_dataclass(item):
                outer = self._certs
                if kind == "section" and here in self.section_paths:
                    self._certs = self.section_certs.setdefault(self.section_paths[here], set())
                try:
                    value = [self.resolve(typing.cast(type, item), v, f"{here}[{i}]")
                             for i, v in enumerate(value)]
                finally:
                    self._certs = outer
            elif dataclasses.is_dataclass(tp):
                value = self.resolve(typing.cast(type, tp), value, here)
            out[name] = value
        return out

    def _load(self, ref: str, path: str) -> Any:
        if ref in self.cache:
            return self.cache[ref]
        if ref in self._old_cache:
            parsed = self._old_cache[ref]
        else:
            try:
                data = self._read(ref)
            except FileNotFoundError:
                raise MissingFile(ref, path) from None
            name = ref.rsplit("/", 1)[1].rsplit(".", 1)[0]
            digest = sha256(data)
            if not (digest == name or (ref.startswith(SECTIONS_DIR) and name.endswith("-" + digest[:16]))):
                raise DamagedFile(f"{ref}: its content does not match its name (changed by hand "
                                  "or damaged); restore it, or write the value inline in config.yaml")
            try:
                parsed = data.decode("utf-8") if ref.startswith(CERTS_DIR) else json.loads(data)
            except ValueError as exc:
                raise DamagedFile(f"{ref}: unreadable: {exc}") from None
        self.cache[ref] = parsed
        self.files.add(ref)
        return parsed

    def _section(self, ref: str, path: str) -> Any:
        if not SECTION_REF.fullmatch(ref):
            raise ModelError(path, f"expected a list, or a section file sections/<name>-<hash>.json; "
                                   f"got {show(ref)}")
        self.section_paths[path] = ref
        return self._load(ref, path)

    def _certificate(self, ref: str, path: str) -> str:
        pem = self._load(ref, path)
        if self._certs is not None:
            self._certs.add(ref)
        return pem

    def layout(self, deployment: Any) -> Layout:
        layout = Layout(files=set(self.files))
        for path, ref in self.section_paths.items():
            obj = deployment
            for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
                obj = obj[int(part[1:-1])] if part.startswith("[") else getattr(obj, _fields(obj)[1][part].name)
            layout.sections[path] = (ref, obj)
            layout.section_certs[ref] = frozenset(self.section_certs.get(ref, ()))
        return layout

    def where(self, path: str) -> tuple[str, int | None, str] | None:
        """For an error at ``path`` inside a section file: the file, its line, and the
        path within it."""
        for section, ref in sorted(self.section_paths.items(), key=lambda kv: -len(kv[0])):
            if path == section or path.startswith(section + "["):
                rest = path[len(section):]
                match = re.match(r"\[(\d+)\]", rest)
                return ref, (int(match.group(1)) + 2 if match else None), rest
        return None
