"""The CM Administration pages: add, change, list and delete entries from their declared fields.

A page's YAML names the list it edits and, per field, the setting it writes
(``capf.authentication_string``); the rules that tie fields together live here: a CAPF
operation other than No Pending Operation needs mixed mode and an authentication
string, Operation Completes By defaults from the CAPF service parameter, and a name
used by another entry is refused. The answers are the CM Administration page's status
line ("Add successful", "Update successful").
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from xsp_cli_contexts.cucm import Page, PageField
from xsp_cli_contexts.schema import Command
from xsp.cli import render
from xsp.cli.actions import ActionContext, CommandError, action
from xsp.cli.actions.cucm import EMU_RESTART, cucm_change
from xsp.config import cucm as model
from xsp.config.cucm import CucmSettings
from xsp.config.model import Deployment, Node
from xsp.cucm.passwords import hash_password

_MODELS = {"ApplicationUser": model.ApplicationUser, "EndUser": model.EndUser,
           "CapfProfile": model.CapfProfile, "Phone": model.Phone}
RESTART_NOTE = f"Restart the service for the change to take effect {EMU_RESTART}"


def _entries(page: Page, cucm: CucmSettings) -> list[Any]:
    entries = getattr(cucm, page.spec["path"])
    kind = page.spec.get("kind")
    return [e for e in entries if kind is None or e.kind == kind]


def _find(page: Page, cucm: CucmSettings, key: str) -> Any | None:
    return next((e for e in _entries(page, cucm) if e.key.lower() == key.lower()), None)


def _get_attr(obj: Any, attr: str) -> Any:
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _set_attr(obj: Any, attr: str, value: Any) -> None:
    *parents, last = attr.split(".")
    for part in parents:
        obj = getattr(obj, part)
    setattr(obj, last, value)


def _value(f: PageField, raw: Any) -> Any:
    if f.param.type.__class__.__name__ == "PasswordType":
        return hash_password(raw)
    return int(raw) if f.integer else raw


def _apply(page: Page, entry: Any, values: dict[str, Any]) -> None:
    for f in page.fields:
        if f.name in values and f is not page.key:
            _set_attr(entry, f.attr, _value(f, values[f.name]))


def _check_capf(page: Page, entry: Any, cucm: CucmSettings, values: dict[str, Any]) -> None:
    capf = getattr(entry, "capf", None)
    if capf is None:
        return
    operation = capf.certificate_operation
    if operation in ("Install/Upgrade", "Delete"):
        if not cucm.mixed_mode:
            raise CommandError(f"Error: certificateOperation: {operation} needs the cluster in mixed "
                               "mode (utils ctl set-cluster mixed-mode); the cluster is in non-secure mode")
        if not capf.authentication_string:
            raise CommandError(f"Error: authenticationString: {operation} needs an authentication "
                               "string (4 to 10 digits)")
        if "operationCompletesBy" not in values and (
                "certificateOperation" in values or not capf.operation_completes_by):
            days = cucm.service_parameters.capf_operation_expires_in_days
            capf.operation_completes_by = (dt.date.today() + dt.timedelta(days=days)).isoformat()
        if "certificateOperation" in values or "authenticationString" in values:
            capf.certificate_operation_status = "Operation Pending"


def _check_user(page: Page, entry: Any, cucm: CucmSettings) -> None:
    if not isinstance(entry, model.CapfProfile):
        return
    users = cucm.application_users if entry.kind == "Application User" else cucm.end_users
    if not any(u.user_id == entry.user_id for u in users):
        f = page.fields[1]
        what = "ApplicationUser" if entry.kind == "Application User" else "EndUser"
        raise CommandError(f"Error: {f.name}: no {entry.kind.lower()} {entry.user_id} "
                           f"(ccmadmin {what} add creates one)")


def _check_unique(page: Page, cucm: CucmSettings, key: str) -> None:
    if page.spec["path"] == "capf_profiles":
        clash = next((p for p in cucm.capf_profiles if p.instance_id.lower() == key.lower()), None)
        if clash is not None:
            raise CommandError(f"Error: instanceId: {key} is already the Instance ID of a CAPF "
                               f"profile of {clash.kind.lower()} {clash.user_id}; each instance needs its own")
    elif _find(page, cucm, key) is not None:
        raise CommandError(f"Error: {page.key.name}: {key} already exists")


@action("cucm.page.add")
def page_add(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    page: Page = actx.page  # type: ignore[attr-defined]
    key = values[page.key.name]

    def mutate(deployment: Deployment, node: Node, cucm: CucmSettings) -> list[str]:
        _check_unique(page, cucm, key)
        cls = _MODELS[page.spec["model"]]
        required = {f.attr: _value(f, values[f.name]) for f in page.fields
                    if f.name in values and "." not in f.attr}
        if page.spec.get("kind"):
            required["kind"] = page.spec["kind"]
        entry = cls(**required)
        _apply(page, entry, values)
        _check_user(page, entry, cucm)
        _check_capf(page, entry, cucm, values)
        getattr(cucm, page.spec["path"]).append(entry)
        return ["Add successful"]

    return cucm_change(actx, command, mutate)


@action("cucm.page.set")
def page_set(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    page: Page = actx.page  # type: ignore[attr-defined]
    if page.spec.get("parameters"):
        return _set_parameters(actx, page, command, values)
    key = values[page.key.name]
    if len(values) == 1:
        raise CommandError(f"Error: nothing to change; give one or more fields (usage: "
                           f"{render.usage(command)})")

    def mutate(deployment: Deployment, node: Node, cucm: CucmSettings) -> list[str]:
        entry = _find(page, cucm, key)
        if entry is None:
            raise CommandError(f"Error: {page.key.name}: no entry {key} ({page.title})")
        _apply(page, entry, values)
        _check_user(page, entry, cucm)
        _check_capf(page, entry, cucm, values)
        return ["Update successful"]

    return cucm_change(actx, command, mutate)


def _set_parameters(actx: ActionContext, page: Page, command: Command, values: dict[str, Any]) -> list[str]:
    if not values:
        raise CommandError(f"Error: nothing to change; give one or more parameters (usage: "
                           f"{render.usage(command)})")

    def mutate(deployment: Deployment, node: Node, cucm: CucmSettings) -> list[str]:
        for f in page.fields:
            if f.name in values:
                _set_attr(cucm, f.attr, values[f.name])
        return ["Update successful"]

    return cucm_change(actx, command, mutate, RESTART_NOTE if page.spec.get("restart") else None)


@action("cucm.page.get")
def page_get(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    page: Page = actx.page  # type: ignore[attr-defined]
    cucm = actx.node.cucm_settings
    if page.spec.get("parameters"):
        return render.table(["Service", "Parameter", "Value"],
                            [[f.service, f.label, _shown(f, _get_attr(cucm, f.attr))] for f in page.fields])
    key = values.get(page.key.name)
    if key is None:
        columns = page.spec["columns"]
        headers = [_label(page, c) for c in columns]
        return render.table(headers, [[_cell(page, e, c) for c in columns] for e in _entries(page, cucm)])
    entry = _find(page, cucm, key)
    if entry is None:
        raise CommandError(f"Error: {page.key.name}: no entry {key} ({page.title})")
    pairs: list[tuple[str, object]] = [(f.label, _shown(f, _get_attr(entry, f.attr))) for f in page.fields]
    capf = getattr(entry, "capf", None)
    if capf is not None:
        pairs.insert(3, ("Authentication Mode", model.AUTHENTICATION_MODE))
        pairs.append(("Certificate Operation Status", capf.certificate_operation_status))
        lsc = capf.lsc
        pairs.append(("Issued Certificate", f"serial {lsc.serial}, {lsc.subject}, valid to "
                      f"{lsc.not_after}" if lsc else "none"))
    if page.spec.get("show_groups"):
        pairs.append(("Groups", ", ".join(entry.groups) or "none"))
    if page.spec.get("devices"):
        pairs.append(("Controlled Devices", ", ".join(entry.controlled_devices) or "none"))
    return render.attributes(pairs)


def _shown(f: PageField, value: object) -> object:
    # A password is never shown, only whether one is set.
    if f.param.type.__class__.__name__ == "PasswordType":
        return "********" if value else ""
    return value


def _label(page: Page, column: str) -> str:
    if column == "certificateOperationStatus":
        return "Certificate Operation Status"
    return page.field(column).label


def _cell(page: Page, entry: Any, column: str) -> object:
    if column == "certificateOperationStatus":
        return entry.capf.certificate_operation_status
    return _get_attr(entry, page.field(column).attr)


@action("cucm.page.delete")
def page_delete(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    page: Page = actx.page  # type: ignore[attr-defined]
    key = values[page.key.name]

    def mutate(deployment: Deployment, node: Node, cucm: CucmSettings) -> list[str]:
        entry = _find(page, cucm, key)
        if entry is None:
            raise CommandError(f"Error: {page.key.name}: no entry {key} ({page.title})")
        if isinstance(entry, model.ApplicationUser):
            kind = "Application User" if not isinstance(entry, model.EndUser) else "End User"
            profiles = [p.instance_id for p in cucm.capf_profiles
                        if p.kind == kind and p.user_id == entry.user_id]
            if profiles:
                raise CommandError(f"Error: {entry.user_id} has CAPF profiles ({', '.join(profiles)}); "
                                   "delete them first")
        if isinstance(entry, model.Phone):
            # As on CUCM, a deleted phone leaves every user's Controlled Devices.
            for user in [*cucm.application_users, *cucm.end_users]:
                if entry.device_name in user.controlled_devices:
                    user.controlled_devices.remove(entry.device_name)
        getattr(cucm, page.spec["path"]).remove(entry)
        return ["Delete successful"]

    return cucm_change(actx, command, mutate)


# --- Controlled Devices ----------------------------------------------------------------

def _user(page: Page, cucm: CucmSettings, user_id: str) -> model.ApplicationUser:
    entry = _find(page, cucm, user_id)
    if entry is None:
        raise CommandError(f"Error: {page.key.name}: no entry {user_id} ({page.title})")
    assert isinstance(entry, model.ApplicationUser)
    return entry


@action("cucm.page.add_device")
def page_add_device(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    page: Page = actx.page  # type: ignore[attr-defined]
    device = values["deviceName"].upper()

    def mutate(deployment: Deployment, node: Node, cucm: CucmSettings) -> list[str]:
        user = _user(page, cucm, values[page.key.name])
        if not any(p.device_name == device for p in cucm.phones):
            raise CommandError(f"Error: deviceName: no phone {device} (ccmadmin Phone add creates one)")
        if device in user.controlled_devices:
            raise CommandError(f"Error: deviceName: {device} is already a controlled device of {user.user_id}")
        user.controlled_devices.append(device)
        return ["Update successful"]
    return cucm_change(actx, command, mutate)


@action("cucm.page.remove_device")
def page_remove_device(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    page: Page = actx.page  # type: ignore[attr-defined]
    device = values["deviceName"].upper()

    def mutate(deployment: Deployment, node: Node, cucm: CucmSettings) -> list[str]:
        user = _user(page, cucm, values[page.key.name])
        if device not in user.controlled_devices:
            raise CommandError(f"Error: deviceName: {device} is not a controlled device of {user.user_id}")
        user.controlled_devices.remove(device)
        return ["Update successful"]
    return cucm_change(actx, command, mutate)


# --- Access Control Group ------------------------------------------------------------

def _members(cucm: CucmSettings, group: str) -> list[tuple[str, str]]:
    return ([("Application User", u.user_id) for u in cucm.application_users if group in u.groups]
            + [("End User", u.user_id) for u in cucm.end_users if group in u.groups])


def _group(cucm: CucmSettings, name: str) -> str:
    match = next((g for g in cucm.groups() if g.lower() == name.lower()), None)
    if match is None:
        raise CommandError(f"Error: group: no access control group {name!r}")
    return match


@action("cucm.group.get")
def group_get(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    cucm = actx.node.cucm_settings
    if values.get("group") is None:
        return render.table(["Name", "Standard", "Members"],
                            [[g, g in model.STANDARD_GROUPS, len(_members(cucm, g))] for g in cucm.groups()])
    group = _group(cucm, values["group"])
    return render.table(["User Type", "User ID"], _members(cucm, group))


@action("cucm.group.add")
def group_add(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    def mutate(deployment: Deployment, node: Node, cucm: CucmSettings) -> list[str]:
        if any(g.lower() == values["name"].lower() for g in cucm.groups()):
            raise CommandError(f"Error: name: {values['name']} already exists")
        cucm.custom_groups.append(values["name"])
        return ["Add successful"]
    return cucm_change(actx, command, mutate)


@action("cucm.group.delete")
def group_delete(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    def mutate(deployment: Deployment, node: Node, cucm: CucmSettings) -> list[str]:
        group = _group(cucm, values["group"])
        if group in model.STANDARD_GROUPS:
            raise CommandError(f"Error: group: {group} is a standard group and cannot be deleted")
        if _members(cucm, group):
            raise CommandError(f"Error: group: {group} still has members; remove them first")
        cucm.custom_groups.remove(group)
        return ["Delete successful"]
    return cucm_change(actx, command, mutate)


@action("cucm.group.add_member")
def group_add_member(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    listing = command.options["users"]

    def mutate(deployment: Deployment, node: Node, cucm: CucmSettings) -> list[str]:
        group = _group(cucm, values["group"])
        user = next((u for u in getattr(cucm, listing) if u.user_id == values["userId"]), None)
        if user is None:
            kind = "application user" if listing == "application_users" else "end user"
            raise CommandError(f"Error: userId: no {kind} {values['userId']}")
        if group in user.groups:
            raise CommandError(f"Error: userId: {user.user_id} is already in {group}")
        user.groups.append(group)
        return ["Add successful"]
    return cucm_change(actx, command, mutate)


@action("cucm.group.remove_member")
def group_remove_member(actx: ActionContext, command: Command, values: dict[str, Any]) -> list[str]:
    def mutate(deployment: Deployment, node: Node, cucm: CucmSettings) -> list[str]:
        group = _group(cucm, values["group"])
        user = next((u for u in [*cucm.application_users, *cucm.end_users]
                     if u.user_id == values["userId"] and group in u.groups), None)
        if user is None:
            raise CommandError(f"Error: userId: {values['userId']} is not in {group}")
        user.groups.remove(group)
        return ["Delete successful"]
    return cucm_change(actx, command, mutate)
