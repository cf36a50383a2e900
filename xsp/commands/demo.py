"""``xsp demo``: the whole rehearsal on a fresh state, in seconds."""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography import x509

    import trust
    from xsp.node.managed import ManagedNodeControl
    from xsp.webex.received import XsiEvent


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo", help="make a demo PKI, run the Webex CTI procedure and show the node working",
        description="From a fresh state: make the demo PKI, split the Webex CA bundle, run the "
                    "guide's configuration procedure step by step, restart the node, connect a "
                    "Webex-like client and simulate a call. On a terminal it then leaves you in "
                    "the shell with the node running.")
    parser.add_argument("--state", type=Path, default=None,
                        help="state directory to create (default: a new temporary directory)")
    parser.add_argument("--port", type=int, default=8012,
                        help="CTI port (default 8012; a free port when it is taken, or with 0)")
    parser.add_argument("--no-shell", action="store_true",
                        help="do not open the shell at the end, even on a terminal")
    parser.add_argument("--cucm", action="store_true",
                        help="the CUCM part instead: mixed mode, a secure JTAPI application enrolled with "
                             "CAPF, its provider and phone on 2749, a non-secure user refused there")
    from xsp.live import service as live_page
    live_page.add_arguments(parser)
    parser.set_defaults(run=run)


def heading(text: str) -> None:
    print(f"\n### {text}")


def run(args: argparse.Namespace) -> int:
    if args.cucm:
        from xsp.commands.cucmdemo import run_cucm
        return run_cucm(args)
    # Imported here so that `xsp` starts fast for the other commands.
    import trust
    from xsp import doctor
    from xsp.cli.engine import Engine
    from xsp.cli.session import run_interactive
    from xsp.config.store import Store
    from xsp.node.managed import ManagedNodeControl
    from xsp.procedure import Files, webex_procedure
    from xsp.cli.transcript import Recorder

    base = args.state or Path(tempfile.mkdtemp(prefix="xsp-demo-"))
    state, pki_dir = base / "state", base / "pki"
    if (state / "config.yaml").exists():
        print(f"xsp: {state} already holds a state; the demo starts from a fresh one", file=sys.stderr)
        return 1
    from xsp.node.addresses import free_port

    port = free_port(args.port)
    from xsp.live import service as live_page
    from xsp.live.page import LivePageError
    try:
        live = live_page.from_arguments(args)
    except LivePageError as exc:
        print(f"xsp: {exc}", file=sys.stderr)
        return 1
    if live is not None:
        print(f"Live page (read-only), from the node's first start: {live.url}")

    heading(f"Demo PKI in {pki_dir}")
    pki = trust.make_demo_pki(pki_dir)
    for path in pki.paths():
        print(f"  {path.name:28} {trust.DEMO_FILES[path.name]}")

    heading("Split the Webex CA bundle (xsp split-chain)")
    plan, split_dir = trust.split_bundle(pki.combined_chain, pki_dir / "split")
    for written in plan.files:
        print(f"  {split_dir / written.name}  {written.role.value}, CN={trust.describe(written.certificate).subject_cn}")
    files = Files(anchors=tuple((f.alias, split_dir / f.name) for f in plan.files),
                  server_key=pki.server_key, server_cert=pki.server_cert,
                  server_chain=pki.server_chain)

    store = Store(state)
    control = ManagedNodeControl(store, live=live)
    # Both CLIs write one transcript: the method of procedure to take to the real nodes.
    recorder = Recorder(base / "procedure.txt", state)
    engines = {"AS": Engine(store, "as1", control, recorder),
               "XSP": Engine(store, "xsp1", control, recorder)}
    try:
        for step in webex_procedure("127.0.0.1", port, files):
            if step.section:
                heading(step.section)
            engine = engines[step.node]
            print(engine.prompt + step.line)
            result = engine.execute(step.line)
            if result.lines:
                print(result.text)
            if not result.ok:
                print(f"xsp: the demo step failed: {step.line}", file=sys.stderr)
                return 1
        recorder.close()
        engines["XSP"].recorder = engines["AS"].recorder = None
        print(f"\nThe procedure with its answers: {base / 'procedure.txt'} "
              f"(check it with: xsp replay {base / 'procedure.txt'} --state NEW_DIR)")
        heading("Webex connects (xsp webex-client) and a call is simulated (xsp sim call)")
        events = asyncio.run(_webex_and_call(control, pki, port))
        heading("Readiness (xsp doctor)")
        findings = doctor.check(store.load(), "xsp1")
        print("\n".join(doctor.render(findings)))
        ready = all(f.ok for f in findings) and events >= MINIMUM_EVENTS
        print(f"\nState: {state}   PKI: {pki_dir}")
        if ready and sys.stdin.isatty() and sys.stdout.isatty() and not args.no_shell:
            print("The node keeps running while you are in the shell; exit ends both.")
            return run_interactive(engines["XSP"], store.dir / "history")
        return 0 if ready else 1
    finally:
        control.close()


# Two subscription events, then a basic call seen by both parties.
MINIMUM_EVENTS = 2 + 11
QUIET = 0.5  # once the call has ended, the stream is done after this long without an event


async def _webex_and_call(control: "ManagedNodeControl", pki: "trust.DemoPKI", port: int) -> int:
    import trust
    from xsp.commands.webex import format_event
    from xsp.webex.client import WebexClient, tls_context

    context = tls_context(str(pki.webex_client_cert), str(pki.webex_client_key), str(pki.partner_ca))
    users = ("alice@example.com", "bob@example.com")
    received = 0
    async with WebexClient("127.0.0.1", port, ssl_context=context) as client:
        for user in users:
            await client.subscribe(user)
        print(f"Webex client CN={trust.describe(_certificate(pki.webex_client_cert)).subject_cn} "
              f"connected over mTLS to 127.0.0.1:{port} (CTI interface protocol), "
              f"subscribed {', '.join(users)}")
        call = asyncio.create_task(asyncio.to_thread(control.send, {
            "op": "call", "caller": users[0], "callee": users[1],
            "answer_after": 0.3, "release_after": 0.5}))
        stream = client.events().__aiter__()
        async with asyncio.timeout(15):
            getter: asyncio.Future[XsiEvent] | None = None
            while True:
                getter = getter or asyncio.ensure_future(anext(stream))
                # Until the call is over, its end counts as much as an event: the last
                # event may come before the call's answer does.
                waiting: set[asyncio.Future[Any]] = {getter}
                if not call.done():
                    waiting.add(call)
                done, _ = await asyncio.wait(waiting, timeout=QUIET if call.done() else None,
                                             return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    try:
                        event = getter.result()
                    except StopAsyncIteration:
                        break
                    getter = None
                    print(format_event(event))
                    received += 1
                elif not done:  # quiet for QUIET seconds after the call: the stream is done
                    getter.cancel()
                    break
        await call
    if received < MINIMUM_EVENTS:
        print(f"Only {received} event(s) arrived; expected at least {MINIMUM_EVENTS}.")
    return received


def _certificate(path: Path) -> "x509.Certificate":
    from cryptography import x509
    return x509.load_pem_x509_certificate(path.read_bytes())
