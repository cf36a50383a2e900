"""Attribute levels: ``get`` prints ``name = value`` lines, ``set name value`` changes one."""
from __future__ import annotations

from typing import Any

from xsp_cli_contexts.schema import Command
from xsp.cli import render
from xsp.cli.actions import ActionContext, action, declared_path, resolve
from xsp.config.model import Deployment, Node


@action("attr.get")
def attr_get(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    obj = resolve(actx.node, declared_path(command), values)
    return render.attributes([(name, getattr(obj, field))
                              for name, field in command.options["attributes"].items()])


@action("attr.set")
def attr_set(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    def mutate(deployment: Deployment, node: Node) -> None:
        obj = resolve(node, declared_path(command), values)
        for name, field in command.options["attributes"].items():
            if name in values:
                setattr(obj, field, values[name])

    return actx.change(command, mutate)
