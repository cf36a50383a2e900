"""The BroadWorks command trees as data.

A tree file (``xsp.yaml``, ``as.yaml``) declares contexts, their sub-contexts and their
commands; ``emulator.yaml`` declares the commands that exist only in this emulator.
Each command names the ``action`` that executes it and the configuration ``path`` it
reads or writes, so adding a BroadWorks context means editing YAML, not Python.

Repeated shapes (the Ciphers/Protocols pair appears at four levels) are declared once
under ``templates:`` and instantiated with ``template: NAME`` plus ``vars:``; every
``{var}`` in the template's strings is replaced.
"""
from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from xsp_cli_contexts.types import ParamType, make_type


class TreeError(ValueError):
    """A tree file does not follow the schema (a packaging bug, not user input)."""


@dataclass(frozen=True)
class Param:
    name: str
    type: ParamType
    help: str
    optional: bool = False
    # A keyword parameter is typed as ``keyword value`` (sslUpdate's ``keyFile <f>``).
    keyword: str | None = None

    def syntax(self) -> str:
        inner = f"<{self.name}>, {self.type.describe()}"
        return f"[{inner}]" if self.optional else inner


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    action: str
    params: tuple[Param, ...] = ()
    path: str | None = None
    # Extra data for the action (table columns, attribute names, ...).
    options: dict[str, Any] = field(default_factory=dict)
    # Changes made by this command reach a running interface only on restart.
    restart: bool = False
    # Free text after the declared parameters (e.g. `help <command>`).
    rest: bool = False


@dataclass
class Context:
    name: str
    help: str
    children: dict[str, "Context"] = field(default_factory=dict)
    commands: dict[str, Command] = field(default_factory=dict)
    parent: "Context | None" = field(default=None, repr=False)

    @property
    def path(self) -> str:
        """Slash-joined names below the root, e.g. ``Interface/CTI/CTIServer``."""
        names: list[str] = []
        node: Context | None = self
        while node is not None and node.parent is not None:
            names.append(node.name)
            node = node.parent
        return "/".join(reversed(names))

    def walk(self) -> Iterator[Context]:
        yield self
        for child in self.children.values():
            yield from child.walk()


@dataclass(frozen=True)
class Tree:
    cli: str  # prompt prefix without _CLI: "XSP", "AS"
    root: Context

    def find(self, path: str) -> Context:
        node = self.root
        for part in filter(None, path.split("/")):
            node = node.children[part]
        return node


def _substitute(value: Any, variables: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, replacement in variables.items():
            value = value.replace("{" + key + "}", replacement)
        return value
    if isinstance(value, list):
        return [_substitute(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, variables) for k, v in value.items()}
    return value


def _expand(spec: dict[str, Any], templates: dict[str, Any], where: str) -> dict[str, Any]:
    if "template" not in spec:
        return spec
    name = spec["template"]
    if name not in templates:
        raise TreeError(f"{where}: unknown template {name!r}")
    expanded = _substitute(copy.deepcopy(templates[name]), spec.get("vars", {}))
    expanded.update({k: v for k, v in spec.items() if k not in ("template", "vars")})
    return expanded


def _build_param(spec: dict[str, Any], where: str) -> Param:
    try:
        return Param(
            name=spec["name"],
            type=make_type(spec.get("type", "string"), spec),
            help=spec.get("help", ""),
            optional=bool(spec.get("optional", False)),
            keyword=spec.get("keyword"),
        )
    except (KeyError, ValueError) as exc:
        raise TreeError(f"{where}: bad parameter {spec!r}: {exc}") from exc


def _build_command(name: str, spec: dict[str, Any], where: str) -> Command:
    if "action" not in spec:
        raise TreeError(f"{where}: command {name} has no action")
    known = {"help", "action", "params", "path", "restart", "rest", "options"}
    unknown = set(spec) - known
    if unknown:
        raise TreeError(f"{where}: command {name} has unknown keys {sorted(unknown)}")
    return Command(
        name=name,
        help=spec.get("help", ""),
        action=spec["action"],
        params=tuple(_build_param(p, f"{where}/{name}") for p in spec.get("params", [])),
        path=spec.get("path"),
        options=dict(spec.get("options", {})),
        restart=bool(spec.get("restart", False)),
        rest=bool(spec.get("rest", False)),
    )


def _build_context(name: str, spec: dict[str, Any], templates: dict[str, Any],
                   parent: Context | None, where: str) -> Context:
    spec = _expand(spec or {}, templates, where)
    ctx = Context(name=name, help=spec.get("help", ""), parent=parent)
    for child_name, child_spec in (spec.get("contexts") or {}).items():
        ctx.children[child_name] = _build_context(
            child_name, child_spec, templates, ctx, f"{where}/{child_name}")
    for cmd_name, cmd_spec in (spec.get("commands") or {}).items():
        ctx.commands[cmd_name] = _build_command(cmd_name, cmd_spec, where)
    return ctx


def build_tree(document: dict[str, Any], name: str = "<tree>") -> Tree:
    templates = document.get("templates", {})
    root = _build_context("", {"help": document.get("help", ""),
                               "contexts": document.get("contexts", {}),
                               "commands": document.get("commands", {})},
                          templates, None, name)
    return Tree(cli=document["cli"], root=root)


# The package this module is in, by the name it was imported as: the data files travel
# with the code, whatever name an installation gives the package.
_PACKAGE = __name__.rpartition(".")[0]


def _read(filename: str) -> dict[str, Any]:
    text = resources.files(_PACKAGE).joinpath(filename).read_text(encoding="utf-8")
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@cache
def load_tree(kind: str) -> Tree:
    """The tree of one CLI: ``"XSP"`` (also used by ADP nodes) or ``"AS"``."""
    filename = {"XSP": "xsp.yaml", "ADP": "xsp.yaml", "AS": "as.yaml"}[kind]
    return build_tree(_read(filename), filename)


@cache
def load_emulator_commands() -> Context:
    """Commands that exist only in this emulator; reachable from every context as ``emu``."""
    document = _read("emulator.yaml")
    return _build_context("emu", {"help": document.get("help", ""),
                                  "commands": document["commands"]},
                          {}, None, "emulator.yaml")
