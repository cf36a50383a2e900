"""The emulator's own commands (``emu ...``): node status and restart, nodes, users."""
from __future__ import annotations

from typing import Any, Callable

from xsp_cli_contexts.schema import Command
from xsp_cli_contexts.types import IntType
from xsp.cli import render
from xsp.cli.actions import ActionContext, CommandError, action
from xsp.config.model import EXPIRES_LIMITS, MIN_EXPIRES, NODE_NAME, Deployment, Node, User
from xsp.hostport import host_port

# emu limit's names, the setting each sets, and what it bounds.
LIMITS = (
    ("connections", "connections", "connections open at once, all listeners of the node"),
    ("connectionsPerClient", "connections_per_client", "connections open at once, one client"),
    ("channels", "channels", "event channels open at once, all clients"),
    ("channelsPerClient", "channels_per_client", "event channels open at once, one client"),
    ("subscriptions", "subscriptions", "subscriptions, all clients"),
    ("subscriptionsPerClient", "subscriptions_per_client", "subscriptions, one client"),
    ("channelSetsPerClient", "channel_sets_per_client", "channel sets, one client"),
    ("backlog", "backlog", "events a channel set keeps while it has no channel"),
    ("backlogSeconds", "backlog_seconds", "seconds an event waits in that backlog"),
    ("outboxKiB", "outbox_kib", "KiB written to a channel that its client has not read"),
    ("writeTimeout", "write_timeout", "seconds a client may leave written data unread"),
    ("maxChannelExpires", "max_channel_expires",
     "longest expires granted to a channel, seconds"),
    ("maxSubscriptionExpires", "max_subscription_expires",
     "longest expires granted to a subscription, seconds"),
)


@action("emu.status")
def emu_status(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    node = actx.node
    lines = [f"Node {node.name} ({node.kind}), state {actx.store.dir}"]
    lines += _ask_node(actx, lambda: actx.control.status(actx.store, node.name))
    if node.pending_restart:
        lines.append(f"Awaiting restart ({len(node.pending_restart)}):")
        lines.extend(f"  {change}" for change in node.pending_restart)
    else:
        lines.append("Nothing awaits a restart.")
    return lines


@action("emu.restart")
def emu_restart(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    if actx.node.kind == "AS":
        raise CommandError("Error: the Application Server has no CTI interface to restart; "
                           "use --node to pick an XSP or ADP node")
    return _ask_node(actx, lambda: actx.control.restart(actx.store, actx.node_name))


def _ask_node(actx: ActionContext, ask: Callable[[], list[str]]) -> list[str]:
    """The node's refusal, as the one line of a refused command."""
    try:
        return ask()
    except actx.control.errors as exc:
        raise CommandError(str(exc)) from None


@action("emu.nodes")
def emu_nodes(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    return render.table(["Name", "Kind", "Prompt", "Awaiting Restart"],
                        [[n.name, n.kind, n.prompt_name, len(n.pending_restart)]
                         for n in actx.deployment.nodes])


@action("emu.addnode")
def emu_addnode(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    # The name is part of file names in the state: no separators, no surprises.
    if not NODE_NAME.fullmatch(values["name"]):
        raise CommandError(f"Error: name: {values['name']} is not a node name; "
                           "expected letters, digits, '-' and '_'")

    if any(n.name == values["name"] for n in actx.deployment.nodes):
        raise CommandError(render.ALREADY_PRESENT)
    cucm = None
    if values["kind"] == "CUCM":
        from xsp.cucm.platform import new_settings
        # Made before the lock is taken: minting three RSA keys takes a moment.
        cucm = new_settings(actx.store, values["name"], f"{values['name']}.example.com")

    def mutate(deployment: Deployment, node: Node) -> None:
        if any(n.name == values["name"] for n in deployment.nodes):
            raise CommandError(render.ALREADY_PRESENT)
        deployment.nodes.append(Node(values["name"], values["kind"], cucm=cucm))

    return actx.change(command, mutate)


@action("emu.users")
def emu_users(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    users = actx.deployment.users
    return render.table(["User Id", "Group", "Enterprise"],
                        [[u.user_id, u.group, u.enterprise] for u in users])


@action("emu.adduser")
def emu_adduser(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    user_id = values["userId"]
    if "@" not in user_id or user_id.startswith("@") or user_id.endswith("@"):
        raise CommandError(f"Error: userId: {user_id} is not a user id; expected user@domain")

    def mutate(deployment: Deployment, node: Node) -> None:
        users = deployment.users
        if any(u.user_id == user_id for u in users):
            raise CommandError(render.ALREADY_PRESENT)
        users.append(User(user_id))

    return actx.change(command, mutate)


@action("emu.deluser")
def emu_deluser(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    def mutate(deployment: Deployment, node: Node) -> None:
        users = deployment.users
        match = next((u for u in users if u.user_id == values["userId"]), None)
        if match is None:
            raise CommandError(render.NOT_FOUND)
        users.remove(match)

    return actx.change(command, mutate)


@action("emu.effective")
def emu_effective(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    from xsp.tls.describe import describe_effective
    from xsp.tls.effective import effective, plan_for

    # The interface IP was checked against the configured ones (none on the AS).
    settings = actx.node.xsp_settings
    server = settings.cti_server(values["interfaceIp"])
    assert server is not None
    eff = effective(settings, server)
    lines = [f"Interface {host_port(server.ip, server.port)}",
             f"Protocols from {eff.protocols_from}: {', '.join(eff.protocols) or 'none'}",
             f"Ciphers from {eff.ciphers_from}: {len(eff.ciphers)} suite(s)"]
    if not server.secure:
        return [*lines, "The interface is not secure (plain TCP): no TLS settings apply."]
    return [*lines, *describe_effective(plan_for(settings, server))]


@action("emu.record")
def emu_record(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    from pathlib import Path

    from xsp.cli.transcript import Recorder, TranscriptError

    engine, target = actx.engine, values["file"]
    if engine.recorder is not None:
        engine.recorder.close()
        engine.recorder = None
        if target.lower() == "off":
            return ["Recording stopped."]
    elif target.lower() == "off":
        raise CommandError("Error: no recording is running")
    path = Path(target)
    try:
        engine.recorder = Recorder(path, actx.store.dir, node=actx.node_name)
    except TranscriptError as exc:
        raise CommandError(f"Error: {exc}") from None
    except OSError as exc:
        raise CommandError(f"Error: cannot write {path}: {exc.strerror}") from None
    return [f"Recording to {path} (emu record off stops)."]


@action("emu.xsi")
def emu_xsi(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    text = values["port"].strip().lower()
    port: int | None
    if text == "off":
        port = None
    elif text.isdigit() and 1 <= int(text) <= 65535:
        port = int(text)
    else:
        raise CommandError(f"Error: port: {values['port']} is not a port; expected 1-65535 or off")
    if actx.node.kind == "AS":
        raise CommandError("Error: the Application Server has no Xsi interface; "
                           "use --node to pick an XSP or ADP node")

    def mutate(deployment: Deployment, node: Node) -> None:
        settings = node.xsp_settings
        clash = next((s for s in settings.cti_servers if s.port == port), None)
        if clash is not None:
            raise CommandError(f"Error: port: {port} is the CTI interface's port on {clash.ip}; "
                               "the Xsi interface needs a port of its own")
        settings.xsi_port = port

    return actx.change(command, mutate)


@action("emu.limits")
def emu_limits(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    limits = actx.deployment.limits
    return render.table(["Limit", "Value", "Bounds"],
                        [[name, getattr(limits, attribute), meaning]
                         for name, attribute, meaning in LIMITS])


@action("emu.limit")
def emu_limit(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    attribute = next(a for name, a, _ in LIMITS if name == values["name"])
    value_type = command.params[1].type
    if attribute in EXPIRES_LIMITS and values["value"] < MIN_EXPIRES:
        # A maximum below the schema's minimum would grant less than every client asks.
        assert isinstance(value_type, IntType)
        raise CommandError(f"Error: value: {values['value']} is out of range for "
                           f"{values['name']}; expected {MIN_EXPIRES} (the minimum expires) "
                           f"to {value_type.high}")

    def mutate(deployment: Deployment, node: Node) -> None:
        setattr(deployment.limits, attribute, values["value"])

    return actx.change(command, mutate)
