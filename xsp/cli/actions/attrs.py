"""Attribute levels: ``get`` prints ``name = value`` lines, ``set name value`` changes one."""
from __future__ import annotations

from typing import Any

from cli_contexts.schema import Command
from xsp.cli import render
from xsp.cli.actions import ActionContext, action, resolve


@action("attr.get")
def attr_get(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    obj = resolve(actx.node, command.path, values)
    return render.attributes([(name, getattr(obj, field))
                              for name, field in command.options["attributes"].items()])


@action("attr.set")
def attr_set(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    def mutate(deployment, node):
        obj = resolve(node, command.path, values)
        for name, field in command.options["attributes"].items():
            if name in values:
                setattr(obj, field, values[name])

    return actx.change(command, mutate)
