"""Lists of strings: cipher suites, protocols, client identities; system-wide or per interface."""
from __future__ import annotations

from typing import Any

from xsp_cli_contexts.schema import Command
from xsp.cli import render
from xsp.cli.actions import ActionContext, CommandError, action, declared_path, resolve, split_path
from xsp.config.model import Deployment, Node


def _value_param(command: Command) -> str:
    return command.params[-1].name


def _target(root: Any, command: Command, values: dict[str, Any]) -> list[str]:
    parent, attribute = split_path(declared_path(command))
    items: list[str] = getattr(resolve(root, parent, values), attribute)
    return items


def _owner(command: Command) -> str:
    """Lists under ``as.`` live on the Application Server, whatever node the shell is on."""
    return "as" if declared_path(command).startswith("as.") else "node"


def _root(actx: ActionContext, command: Command, deployment: Deployment | None = None,
          node: Node | None = None) -> Node:
    deployment = deployment or actx.deployment
    if _owner(command) == "as":
        return deployment.application_server
    return node or deployment.node(actx.node_name)


@action("list.get")
def list_get(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    items = _target(_root(actx, command), command, values)
    return render.table([command.options.get("header", "Name")], [[v] for v in items])


@action("list.add")
def list_add(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    value = values[_value_param(command)]

    def mutate(deployment: Deployment, node: Node) -> None:
        items = _target(_root(actx, command, deployment, node), command, values)
        if value in items:
            raise CommandError(render.ALREADY_PRESENT)
        items.append(value)

    return actx.change(command, mutate)


@action("list.delete")
def list_delete(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    value = values[_value_param(command)]

    def mutate(deployment: Deployment, node: Node) -> None:
        items = _target(_root(actx, command, deployment, node), command, values)
        if value not in items:
            raise CommandError(render.NOT_FOUND)
        items.remove(value)

    return actx.change(command, mutate)


# Per-interface lists: the same, keyed by the interface IP.

@action("keyed.get")
def keyed_get(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    node = actx.node
    _, attribute = split_path(declared_path(command))
    wanted = values.get("interfaceIp")
    rows: list[list[str]] = []
    for server in node.xsp_settings.cti_servers:
        if wanted is None or server.ip == wanted:
            rows.extend([server.ip, item] for item in getattr(server.ssl, attribute))
    return render.table([command.options["key_header"], command.options["header"]], rows)


keyed_add = action("keyed.add")(list_add)
keyed_delete = action("keyed.delete")(list_delete)
