"""What each declared command does. ``ACTIONS`` maps the YAML ``action`` name to code.

An action reads the node through ``ActionContext.node`` and changes it only through
``ActionContext.change``, which saves atomically under the writer lock before the
``...Done`` is returned, and records what awaits a restart.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, TYPE_CHECKING

from xsp_cli_contexts.schema import Command
from xsp.cli import render
from xsp.config.model import Deployment, Node
from xsp.config.store import ConfigFileError, Store

if TYPE_CHECKING:
    from xsp.cli.engine import Engine, NodeControl


class CommandError(Exception):
    """A refused command; str() is the one line the user sees. Nothing was changed."""


Action = Callable[["ActionContext", Command, dict[str, Any]], list[str]]
# What a command changes: called with a fresh copy of the deployment and this node,
# saved only when it returns; lines it returns come before "...Done".
Mutation = Callable[[Deployment, Node], "list[str] | None"]
ACTIONS: dict[str, Action] = {}


def action(name: str) -> Callable[[Action], Action]:
    def register(fn: Action) -> Action:
        ACTIONS[name] = fn
        return fn
    return register


@dataclass
class ActionContext:
    store: Store
    node_name: str
    control: "NodeControl"
    context_path: str
    line: str
    engine: "Engine"

    @property
    def deployment(self) -> Deployment:
        return self.store.load()

    @property
    def node(self) -> Node:
        return self.deployment.node(self.node_name)

    def change(self, command: Command, mutate: Mutation) -> list[str]:
        """Apply ``mutate`` and save; a CommandError from it leaves everything unchanged."""
        try:
            with self.store.edit() as deployment:
                node = deployment.node(self.node_name)
                lines = mutate(deployment, node) or []
                if command.restart:
                    node.pending_restart.append(f"{self.context_path}> {self.line}")
        except ConfigFileError as exc:
            raise CommandError(f"Error: {exc}") from None
        lines = [*lines, render.DONE]
        if command.restart:
            lines.append(render.RESTART_WARNING)
        return lines


def declared_path(command: Command) -> str:
    """The configuration path the command's YAML declares (its action needs one)."""
    if command.path is None:
        raise ValueError(f"the command {command.name} declares no path")
    return command.path


_SEGMENT = re.compile(r"^(\w+)(?:\[(\w+)\])?$")


def resolve(root: Any, path: str, values: dict[str, Any]) -> Any:
    """Follow a declared path such as ``xsp.cti_servers[interfaceIp].ssl.ciphers``.

    ``name[param]`` selects the list entry whose ``key`` equals that parameter's value.
    """
    obj = root
    for segment in path.split("."):
        match = _SEGMENT.match(segment)
        if match is None:
            raise ValueError(f"bad path segment {segment!r} in {path!r}")
        name, key_param = match.groups()
        obj = getattr(obj, "as_" if name == "as" else name)
        if key_param is not None:
            key = values[key_param]
            obj = next((e for e in obj if e.key == key), None)
            if obj is None:
                raise CommandError(render.NOT_FOUND)
    return obj


def split_path(path: str) -> tuple[str, str]:
    parent, _, attribute = path.rpartition(".")
    return parent, attribute

