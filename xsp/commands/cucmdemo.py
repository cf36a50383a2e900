"""``xsp demo --cucm``: the CUCM part of the demo, in seconds, on a fresh state.

Mixed mode and a secure application user through the admin: CLI, the node's services
started, a JTAPI-like client that trusts the CTL, enrols with CAPF and opens its provider
and phone over mutual TLS on 2749, then a non-secure user refused on 2749 with its CTI
error and the trace lines where it stopped, and the readiness check.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path


def heading(text: str) -> None:
    # As xsp demo's headings (that module starts this one, so it is not imported here).
    print(f"\n### {text}")

# CUCM's own ports where free; TFTP's 69 needs root, so the emulator's 6969.
PORTS = {"tftp": 6969, "http": 6970, "capf": 3804, "cti": 2748, "cti-tls": 2749}


def run_cucm(args: argparse.Namespace) -> int:
    temporary = args.state is None
    base = args.state or Path(tempfile.mkdtemp(prefix="xsp-demo-cucm-"))
    if temporary:
        kept = "kept (--keep)" if args.keep else "removed when the demo ends (--keep keeps it)"
        print(f"Demo directory {base}: {kept}")
    try:
        return _run(args, base)
    finally:
        if temporary and not args.keep:
            shutil.rmtree(base, ignore_errors=True)
            print(f"\nRemoved the demo directory {base} and the keys in it.")


def _run(args: argparse.Namespace, base: Path) -> int:
    from xsp.cli.cucm_engine import CucmEngine
    from xsp.cli.engine import Engine
    from xsp.config.store import Store
    from xsp.cucm import doctor as cucm_doctor
    from xsp.cucm.jtapi import JtapiError, JtapiOptions, start
    from xsp.cucm.procedure import SecureCtiSetup
    from xsp.cucm.runtime import CucmRuntime
    from xsp.doctor import render
    from xsp.node.addresses import free_port
    from xsp.node.loop import LoopThread
    from xsp.node.managed import ManagedNodeControl

    state = base / "state"
    if (state / "config.yaml").exists():
        print(f"xsp: {state} already holds a state; the demo starts from a fresh one", file=sys.stderr)
        return 1
    store = Store(state)
    control = ManagedNodeControl(store)
    setup = SecureCtiSetup()
    loop: LoopThread | None = None
    runtime = CucmRuntime(store, "cucm1")
    try:
        heading("A CUCM publisher (emu addnode) on free ports")
        xsp_engine = Engine(store, None, control)
        print(xsp_engine.prompt + "emu addnode cucm1 CUCM")
        print(xsp_engine.execute("emu addnode cucm1 CUCM").text)
        engine = CucmEngine(store, "cucm1", control)
        steps = [("", f"emu set-port {name} {free_port(port)}") for name, port in PORTS.items()]
        for section, line in [*steps, *setup.lines()]:
            if section:
                heading(section)
            print(engine.prompt + line)
            result = engine.execute(line)
            if result.lines:
                print(result.text)
            if not result.ok:
                print(f"xsp: the demo step failed: {line}", file=sys.stderr)
                return 1
        heading("The node's services start")
        loop = LoopThread("xsp-demo-cucm")
        loop.run(runtime.start())
        print("\n".join(runtime.status()))
        if runtime.problems:
            return 1
        assert runtime.tftp and runtime.capf and runtime.cti and runtime.cti_tls
        def options(user: str, auth_string: str = "", devices: tuple[str, ...] = ()) -> JtapiOptions:
            assert runtime.tftp and runtime.capf and runtime.cti and runtime.cti_tls
            return JtapiOptions(user=user, password=setup.password, directory=client_dir, secure=True,
                                instance_id=setup.instance_id, auth_string=auth_string, devices=devices,
                                tftp_port=runtime.tftp.port, capf_port=runtime.capf.port,
                                cti_port=runtime.cti.port, cti_tls_port=runtime.cti_tls.port)

        client_dir = base / "jtapi"
        heading(f"xsp jtapi-client {setup.secure_user} --secure --instance-id {setup.instance_id} "
                f"--auth-string {setup.auth_string} --device {setup.phone}")
        connection = start(options(setup.secure_user, auth_string=setup.auth_string, devices=(setup.phone,)),
                           lambda line: print(f"  {line}"))
        connection.close()
        heading(f"{setup.plain_user} (not a secure CTI user) tries 2749 with that certificate")
        before = len(runtime.manager.trace.lines()) if runtime.manager else 0
        try:
            start(options(setup.plain_user), lambda line: print(f"  {line}"))
            print("xsp: the non-secure user was not refused", file=sys.stderr)
            return 1
        except JtapiError as exc:
            print(f"  refused: {exc}")
        heading("Where it stopped: CTIManager's SDL trace")
        trace = runtime.manager.trace.lines()[before:] if runtime.manager else []
        print("\n".join(f"  {line}" for line in trace if "Directory(" not in line))
        heading("Readiness (xsp doctor --node cucm1)")
        findings = cucm_doctor.check(store, "cucm1")
        print("\n".join(render(findings, "secure CTI")))
        print(f"\nState: {state}   JTAPI client files: {client_dir}")
        return 0 if all(f.ok for f in findings) else 1
    finally:
        if loop is not None:
            loop.run(runtime.stop())
            loop.close()
        control.close()
