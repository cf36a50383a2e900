"""Scenario files: calls and service changes to play against a hub, written in YAML.

    name: morning rush                  # optional
    time_scale: 0.1                     # optional: every delay multiplied by this
    steps:
      - call: {from: alice@example.com, to: bob@example.com,
               answer_after: 0.5, hold_after: 1, retrieve_after: 1, release_after: 2}
      - call: {from: "tel:+15551234567", to: carol@example.com, answer_after: null,
               release_after: 3, background: true}   # rings out, runs alongside
      - wait: 0.5
      - dnd: {user: bob@example.com, active: true}
      - call: {from: bob@example.com, to: carol@example.com, transfer_to: alice@example.com,
               transfer_after: 1, released_by: callee}

Steps run in order; a call step waits until its call ends unless ``background: true``,
and the scenario ends when every call has. Call keys are those of
``CallSimulator.plan`` (``from``/``to`` for caller and callee). The whole scenario is
checked, users included, before its first event: a mistake is one ``ScenarioError``
line naming the step, and nothing is published.

The file is read where the command runs, never by the node: ``read_scenario`` applies the
certificate readers' file checks (a regular file, at most 256 KiB, so a FIFO or
``/dev/zero`` is refused at once), refuses YAML aliases and nesting deeper than a
scenario's, and says "not a scenario" about any other file without repeating its lines.
The node receives plain data and checks it again before playing it.
"""
from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

import xsp_trust as trust
from xsp.cti.calls import CallError, CallPlan, CallResult, CallSimulator
from xsp.cti.hub import EventHub

_CALL_KEYS = {"from", "to", "answer_after", "hold_after", "retrieve_after", "transfer_to",
              "transfer_after", "release_after", "released_by", "background"}
_DELAYS = ("answer_after", "hold_after", "retrieve_after", "transfer_after", "release_after")
_TOP_KEYS = {"name", "time_scale", "steps"}
MAX_SCENARIO_BYTES = 256 * 1024
# top mapping > steps > step > call > value: anything deeper is not a scenario.
_MAX_DEPTH = 5
_SHOWN = 40  # characters of a value repeated in a refusal


class ScenarioError(ValueError):
    """A scenario that cannot be played; ``str()`` is one line."""


@dataclass(frozen=True)
class _Call:
    plan: CallPlan
    background: bool


@dataclass(frozen=True)
class _Wait:
    seconds: float


@dataclass(frozen=True)
class _Dnd:
    user: str
    active: bool


@dataclass
class ScenarioResult:
    name: str
    calls: list[CallResult] = field(default_factory=list)

    @property
    def events(self) -> int:
        return sum(len(c.events) for c in self.calls)


class _ScenarioLoader(yaml.SafeLoader):
    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        # Refused before it is expanded: an alias bomb costs nothing.
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.MarkedYAMLError(problem="YAML aliases (*name) are not accepted in a "
                                               "scenario; write each value out", problem_mark=mark)
        return super().compose_node(parent, index)


def read_scenario(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The scenario in the file at ``path`` as plain data (str, numbers, booleans, null,
    lists and mappings), or one ``ScenarioError`` line that never quotes the file."""
    name = os.fspath(path)
    try:
        raw = trust.read_limited(path, limit=MAX_SCENARIO_BYTES,
                                 expected="a scenario is a few kilobytes of YAML")
        text = raw.decode("utf-8")
    except trust.TrustError as exc:
        raise ScenarioError(str(exc)) from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{name} is not a scenario: it is not UTF-8 text") from None
    try:
        data = yaml.load(text, Loader=_ScenarioLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        # The parser's own words only: its str() would quote the offending line.
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise ScenarioError(f"{name}{where}: not valid YAML: {problem}") from None
    except RecursionError:
        raise ScenarioError(f"{name} is not a scenario: it is nested far deeper than one") from None
    if not isinstance(data, dict) or not (set(data) <= _TOP_KEYS or "steps" in data):
        raise ScenarioError(f"{name} is not a scenario: a scenario is a YAML mapping "
                            "with a 'steps' list (and optionally name, time_scale)")
    _check_plain(data, name, 1)
    return data


def _check_plain(value: Any, name: str, depth: int) -> None:
    """What a control request can carry and a scenario can hold, no deeper than one."""
    if depth > _MAX_DEPTH:
        raise ScenarioError(f"{name} is not a scenario: it is nested deeper than one")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ScenarioError(f"{name}: a key must be a name, got {show(key)}")
            _check_plain(item, name, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_plain(item, name, depth + 1)
    elif value is not None and not isinstance(value, (str, int, float, bool)):
        raise ScenarioError(f"{name}: {show(value)} is not a name, number or true/false")


def show(value: object) -> str:
    """``repr`` cut short: a refusal names a value without copying it whole."""
    return _cut(repr(value))


def _cut(text: str) -> str:
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def load(source: str | os.PathLike[str] | Mapping[str, Any]) -> Mapping[str, Any]:
    """The scenario as data, from a file path (see ``read_scenario``) or already a mapping."""
    if isinstance(source, Mapping):
        return source
    return read_scenario(source)


def _plan(simulator: CallSimulator, data: Mapping[str, Any],
          time_scale: float | None) -> tuple[str, list[_Call | _Wait | _Dnd]]:
    unknown = set(data) - _TOP_KEYS
    if unknown:
        names = ", ".join(sorted(_cut(str(k)) for k in unknown))
        raise ScenarioError(f"unknown scenario keys: {names} (expected name, time_scale, steps)")
    scale = time_scale if time_scale is not None else data.get("time_scale", 1.0)
    if not _seconds(scale):
        raise ScenarioError(f"time_scale must be a number >= 0, got {show(scale)}")
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise ScenarioError("a scenario needs a non-empty 'steps' list")
    planned: list[_Call | _Wait | _Dnd] = []
    for number, step in enumerate(steps, start=1):
        if not isinstance(step, Mapping) or len(step) != 1:
            raise ScenarioError(f"step {number}: each step is one of call, wait, dnd")
        (kind, body), = step.items()
        try:
            planned.append(_step(simulator, str(kind), body, float(scale)))
        except (CallError, ScenarioError) as exc:
            raise ScenarioError(f"step {number} ({_cut(str(kind))}): {exc}") from None
    return str(data.get("name") or "scenario")[:80], planned


def _seconds(value: object) -> bool:
    """A delay or a scale: a finite number >= 0 (``.inf`` would wait for ever)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0)


def _party(body: Mapping[str, Any], key: str) -> str:
    value = str(body[key])
    if len(value) > 256:
        raise ScenarioError(f"{key} is {len(value)} characters long; a user id or address is "
                            "at most 256")
    return value


def _step(simulator: CallSimulator, kind: str, body: Any, scale: float) -> _Call | _Wait | _Dnd:
    if kind == "wait":
        if not _seconds(body):
            raise ScenarioError(f"wait takes a number of seconds >= 0, got {show(body)}")
        return _Wait(body * scale)
    if kind == "dnd":
        if not isinstance(body, Mapping) or set(body) != {"user", "active"} \
                or not isinstance(body["active"], bool):
            raise ScenarioError("dnd takes {user: ID, active: true|false}")
        simulator.party(_party(body, "user"))  # an unknown user is refused now
        return _Dnd(str(body["user"]), body["active"])
    if kind == "call":
        if not isinstance(body, Mapping):
            raise ScenarioError("call takes a mapping with from, to and timings")
        unknown = set(body) - _CALL_KEYS
        if unknown:
            names = ", ".join(sorted(_cut(str(k)) for k in unknown))
            raise ScenarioError(f"unknown keys {names}; "
                                f"known: {', '.join(sorted(_CALL_KEYS))}")
        if "from" not in body or "to" not in body:
            raise ScenarioError("a call needs from and to")
        timing = {k: body[k] for k in body if k not in ("from", "to", "background")}
        # The simulator's defaults, here so that time_scale applies to them too.
        timing.setdefault("answer_after", 1.0)
        timing.setdefault("release_after", 2.0)
        for key in _DELAYS:
            value = timing.get(key)
            if value is not None and not _seconds(value):
                raise ScenarioError(f"{key} must be a number of seconds >= 0, got {show(value)}")
            if value is not None:
                timing[key] = value * scale
        if "transfer_to" in timing and timing["transfer_to"] is not None:
            timing["transfer_to"] = _party(timing, "transfer_to")
        plan = simulator.plan(_party(body, "from"), _party(body, "to"), **timing)
        return _Call(plan, bool(body.get("background", False)))
    raise ScenarioError("each step is one of call, wait, dnd")


async def run_scenario(hub: EventHub, source: str | os.PathLike[str] | Mapping[str, Any], *,
                       time_scale: float | None = None,
                       simulator: CallSimulator | None = None) -> ScenarioResult:
    """Play a scenario to its end; ``time_scale`` overrides the file's."""
    simulator = simulator or CallSimulator(hub)
    name, steps = _plan(simulator, load(source), time_scale)
    result = ScenarioResult(name)
    background: list[asyncio.Task[CallResult]] = []
    try:
        for step in steps:
            if isinstance(step, _Wait):
                await simulator.sleep(step.seconds)
            elif isinstance(step, _Dnd):
                await simulator.set_dnd(step.user, step.active)
            elif step.background:
                background.append(asyncio.ensure_future(simulator.run(step.plan)))
            else:
                result.calls.append(await simulator.run(step.plan))
        result.calls.extend(await asyncio.gather(*background))
    finally:
        for task in background:
            task.cancel()
    return result
