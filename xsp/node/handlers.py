"""What the node answers on its control socket: ping, status, restart, calls, scenarios."""
from __future__ import annotations

import os
from typing import Any

from xsp.cti.calls import CallError, CallResult
from xsp.cti.scenario import ScenarioError, run_scenario
from xsp.node.host import HostStopped, NodeHost

TIMINGS = ("answer_after", "hold_after", "retrieve_after", "transfer_to", "transfer_after",
           "release_after", "released_by")


async def handle_request(host: NodeHost, req: dict[str, Any]) -> dict[str, Any]:
    op = req.get("op")
    if op == "ping":
        return {"ok": True, "lines": [], "pid": os.getpid()}
    if op == "status":
        return {"ok": True, "lines": host.status(req["node"])}
    if op == "restart":
        try:
            return {"ok": True, "lines": await host.restart(req["node"])}
        except HostStopped as exc:
            return {"ok": False, "lines": [f"Error: {exc}"]}
    if op == "call":
        return await run_call(host, req)
    if op == "scenario":
        return await run_scenario_request(host, req)
    return {"ok": False, "lines": [f"Error: unknown control request {op!r}"]}


def _summary(result: CallResult) -> list[str]:
    state = "answered" if result.answered else "not answered"
    lines = [f"Call {result.ext_tracking_id} {state}; {len(result.events)} event(s) published:"]
    lines += [f"  {user:24} {event}" for user, event in result.events]
    return lines


async def run_call(host: NodeHost, req: dict[str, Any]) -> dict[str, Any]:
    simulator = host.simulator
    timing = {k: req[k] for k in TIMINGS if req.get(k) is not None}
    if "answer_after" in req and req["answer_after"] is None:
        timing["answer_after"] = None  # a call nobody answers
    try:
        plan = simulator.plan(req["caller"], req["callee"], **timing)
    except CallError as exc:
        return {"ok": False, "lines": [f"Error: {exc}"]}
    result = await simulator.run(plan)
    return {"ok": True, "lines": _summary(result)}


async def run_scenario_request(host: NodeHost, req: dict[str, Any]) -> dict[str, Any]:
    # The node never opens a file it is named: the client read it (xsp sim run).
    scenario = req.get("scenario")
    if not isinstance(scenario, dict):
        return {"ok": False, "lines": ["Error: a scenario request carries the scenario itself "
                                       "(a mapping), not a file name"]}
    try:
        result = await run_scenario(host.hub, scenario, time_scale=req.get("time_scale"),
                                    simulator=host.simulator)
    except (ScenarioError, CallError) as exc:
        return {"ok": False, "lines": [f"Error: {exc}"]}
    lines = [f"Scenario {result.name}: {len(result.calls)} call(s), {result.events} event(s)"]
    for call in result.calls:
        lines += _summary(call)
    return {"ok": True, "lines": lines}
