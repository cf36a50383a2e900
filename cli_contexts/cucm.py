"""The CUCM trees as data: the platform CLI (``cucm.yaml``) and the CM Administration pages
(``cucm-admin.yaml``).

A platform command is its words (``utils ctl set-cluster mixed-mode``), matched in full
and case-insensitively, then its typed parameters. A page declares its fields (real
label, keyword, the setting it writes, the type); the ``add``/``set``/``get``/``delete``
commands of each page are built from those fields, so a field is added in YAML only.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from xsp_cli_contexts.schema import Command, Param, TreeError, _build_command, _build_param, _read


@dataclass(frozen=True)
class PlatformCommand:
    words: tuple[str, ...]
    command: Command

    @property
    def confirm(self) -> str | None:
        return self.command.options.get("confirm")


@dataclass(frozen=True)
class PlatformTree:
    prompt: str
    help: str
    commands: tuple[PlatformCommand, ...]
    emulator_commands: tuple[Command, ...] = ()

    def match(self, words: list[str]) -> tuple[PlatformCommand, list[str]] | None:
        """The command whose words start the line (the longest such), and the rest."""
        low = [w.lower() for w in words]
        best = None
        for candidate in self.commands:
            n = len(candidate.words)
            if [w.lower() for w in candidate.words] == low[:n] and (best is None or n > len(best.words)):
                best = candidate
        return None if best is None else (best, words[len(best.words):])


@dataclass(frozen=True)
class PageField:
    name: str
    label: str
    attr: str
    param: Param
    required: bool = False
    integer: bool = False
    service: str = ""


@dataclass(frozen=True)
class Page:
    name: str
    title: str
    menu: str
    spec: dict[str, Any] = field(repr=False, hash=False, compare=False)
    fields: tuple[PageField, ...] = ()

    @property
    def key(self) -> PageField:
        """The field that names an entry (a page of entries has one; checked on load)."""
        name = self.spec.get("key")
        found = next((f for f in self.fields if f.name == name), None)
        if found is None:
            raise TreeError(f"{self.name}: no key field {name!r}")
        return found

    def field(self, name: str) -> PageField:
        return next(f for f in self.fields if f.name == name)

    def commands(self) -> dict[str, Command]:
        """The verbs of this page, as commands the binder and help understand."""
        if self.spec.get("groups"):
            return _group_commands(self)
        if self.spec.get("parameters"):
            return {
                "get": Command("get", f"Shows the {self.title} values.", "cucm.page.get"),
                "set": Command("set", f"Changes service parameters ({self.menu}).", "cucm.page.set",
                               params=tuple(_keyword(f, optional=True) for f in self.fields),
                               restart=bool(self.spec.get("restart"))),
            }
        key = self.key
        others = [f for f in self.fields if f is not key]
        key_param = Param(key.name, key.param.type, key.label)
        extra = _device_commands(self, key_param) if self.spec.get("devices") else {}
        return {
            "add": Command("add", f"Adds an entry ({self.menu} > Add New).", "cucm.page.add",
                           params=(key_param, *(_keyword(f, optional=not f.required) for f in others))),
            "set": Command("set", f"Changes an entry ({self.menu}).", "cucm.page.set",
                           params=(key_param, *(_keyword(f, optional=True) for f in others))),
            "get": Command("get", f"Lists the entries, or shows one ({self.menu}).", "cucm.page.get",
                           params=(Param(key.name, key.param.type, key.label, optional=True),)),
            "delete": Command("delete", f"Deletes an entry ({self.menu}).", "cucm.page.delete",
                              params=(key_param,)),
            **extra,
        }


def _device_commands(page: Page, user: Param) -> dict[str, Command]:
    device = _build_param({"name": "deviceName", "type": "ref", "source": "cucm_phones", "min": 1,
                           "max": 15, "help": "The phone's device name."}, page.name)
    return {
        "addDevice": Command("addDevice", "Adds a phone to the user's Controlled Devices (Device "
                             "Information), so the user's CTI provider may open it.",
                             "cucm.page.add_device", params=(user, device)),
        "removeDevice": Command("removeDevice", "Removes a phone from the user's Controlled Devices.",
                                "cucm.page.remove_device", params=(user, device)),
    }


def _keyword(f: PageField, *, optional: bool) -> Param:
    return Param(f.name, f.param.type, f.label, optional=optional, keyword=f.name)


def _group_commands(page: Page) -> dict[str, Command]:
    group = _build_param({"name": "group", "type": "ref", "source": "cucm_groups", "min": 1,
                          "max": 128, "help": "The access control group's name."}, page.name)
    name = _build_param({"name": "name", "type": "string", "min": 1, "max": 128,
                         "help": "The new group's name."}, page.name)
    user = _build_param({"name": "userId", "type": "ref", "source": "cucm_users", "min": 1,
                         "max": 128, "help": "The user ID."}, page.name)
    return {
        "get": Command("get", "Lists the access control groups, or the members of one.",
                       "cucm.group.get", params=(Param("group", group.type, group.help, optional=True),)),
        "add": Command("add", "Adds an access control group.", "cucm.group.add", params=(name,)),
        "delete": Command("delete", "Deletes an access control group you added.", "cucm.group.delete",
                          params=(group,)),
        "addAppUsers": Command("addAppUsers", "Adds an application user to the group (Add App Users "
                               "to Group).", "cucm.group.add_member", params=(group, user),
                               options={"users": "application_users"}),
        "addEndUsers": Command("addEndUsers", "Adds an end user to the group (Add End Users to Group).",
                               "cucm.group.add_member", params=(group, user),
                               options={"users": "end_users"}),
        "removeMembers": Command("removeMembers", "Removes a user from the group (Delete Selected).",
                                 "cucm.group.remove_member", params=(group, user)),
    }


def _build_fields(spec: dict[str, Any], templates: dict[str, Any], where: str) -> tuple[PageField, ...]:
    fields: list[PageField] = []
    for entry in spec.get("fields", []):
        if "template" in entry:
            if entry["template"] not in templates:
                raise TreeError(f"{where}: unknown template {entry['template']!r}")
            expanded = copy.deepcopy(templates[entry["template"]])
        else:
            expanded = [entry]
        for item in expanded:
            param = _build_param({**item, "help": item.get("label", "")}, where)
            fields.append(PageField(item["name"], item["label"], item["attr"], param,
                                    bool(item.get("required")), bool(item.get("integer")),
                                    item.get("service", "")))
    return tuple(fields)


@cache
def load_platform() -> PlatformTree:
    document = _read("cucm.yaml")
    commands = tuple(PlatformCommand(tuple(name.split()), _build_command(name, spec, "cucm.yaml"))
                     for name, spec in document["commands"].items())
    emulator = tuple(_build_command(name, spec, "cucm.yaml")
                     for name, spec in (document.get("emulator_commands") or {}).items())
    return PlatformTree(document["prompt"], document.get("help", ""), commands, emulator)


@cache
def load_pages() -> tuple[str, dict[str, Page]]:
    document = _read("cucm-admin.yaml")
    templates = document.get("templates", {})
    pages = {name: Page(name, spec["title"], spec["menu"], spec,
                        _build_fields(spec, templates, f"cucm-admin.yaml/{name}"))
             for name, spec in document["pages"].items()}
    for page in pages.values():
        if "key" in page.spec:
            _ = page.key  # a page of entries names an existing key field: a packaging bug otherwise
    return str(document.get("help", "")), pages
