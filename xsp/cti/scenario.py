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
"""
from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from xsp.cti.calls import CallError, CallPlan, CallResult, CallSimulator
from xsp.cti.hub import EventHub

_CALL_KEYS = {"from", "to", "answer_after", "hold_after", "retrieve_after", "transfer_to",
              "transfer_after", "release_after", "released_by", "background"}
_DELAYS = ("answer_after", "hold_after", "retrieve_after", "transfer_after", "release_after")


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


def load(source: str | Path | Mapping[str, Any]) -> Mapping[str, Any]:
    """The scenario as data, from a file path or already a mapping."""
    if isinstance(source, Mapping):
        return source
    path = Path(source)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ScenarioError(f"{path}{where}: not valid YAML: "
                            f"{getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{path}: a scenario is a mapping with a 'steps' list")
    return data


def _plan(simulator: CallSimulator, data: Mapping[str, Any],
          time_scale: float | None) -> tuple[str, list[_Call | _Wait | _Dnd]]:
    unknown = set(data) - {"name", "time_scale", "steps"}
    if unknown:
        raise ScenarioError(f"unknown scenario keys: {', '.join(sorted(map(str, unknown)))} "
                            "(expected name, time_scale, steps)")
    scale = time_scale if time_scale is not None else data.get("time_scale", 1.0)
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or scale < 0:
        raise ScenarioError(f"time_scale must be a number >= 0, got {scale!r}")
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
            raise ScenarioError(f"step {number} ({kind}): {exc}") from None
    return str(data.get("name") or "scenario"), planned


def _step(simulator: CallSimulator, kind: str, body: Any, scale: float) -> _Call | _Wait | _Dnd:
    if kind == "wait":
        if not isinstance(body, (int, float)) or isinstance(body, bool) or body < 0:
            raise ScenarioError(f"wait takes a number of seconds >= 0, got {body!r}")
        return _Wait(body * scale)
    if kind == "dnd":
        if not isinstance(body, Mapping) or set(body) != {"user", "active"} \
                or not isinstance(body["active"], bool):
            raise ScenarioError("dnd takes {user: ID, active: true|false}")
        simulator.party(str(body["user"]))  # an unknown user is refused now
        return _Dnd(str(body["user"]), body["active"])
    if kind == "call":
        if not isinstance(body, Mapping):
            raise ScenarioError("call takes a mapping with from, to and timings")
        unknown = set(body) - _CALL_KEYS
        if unknown:
            raise ScenarioError(f"unknown keys {', '.join(sorted(map(str, unknown)))}; "
                                f"known: {', '.join(sorted(_CALL_KEYS))}")
        if "from" not in body or "to" not in body:
            raise ScenarioError("a call needs from and to")
        timing = {k: body[k] for k in body if k not in ("from", "to", "background")}
        # The simulator's defaults, here so that time_scale applies to them too.
        timing.setdefault("answer_after", 1.0)
        timing.setdefault("release_after", 2.0)
        for key in _DELAYS:
            value = timing.get(key)
            if isinstance(value, bool) or (value is not None and not isinstance(value, (int, float))):
                raise ScenarioError(f"{key} must be a number of seconds, got {value!r}")
            if value is not None:
                timing[key] = value * scale
        plan = simulator.plan(str(body["from"]), str(body["to"]), **timing)
        return _Call(plan, bool(body.get("background", False)))
    raise ScenarioError("each step is one of call, wait, dnd")


async def run_scenario(hub: EventHub, source: str | Path | Mapping[str, Any], *,
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
