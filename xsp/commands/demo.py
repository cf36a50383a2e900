"""``xsp demo``: the whole rehearsal on a fresh state, in seconds."""
from __future__ import annotations

import argparse
import asyncio
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography import x509

    import xsp_trust as trust
    from xsp.node.managed import ManagedNodeControl
    from xsp.webex.received import XsiEvent


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo", help="make a demo PKI, run the Webex CTI procedure and show the node working",
        description="From a fresh state: make the demo PKI, split the Webex CA bundle, run the "
                    "guide's configuration procedure step by step, restart the node, connect a "
                    "Webex-like client and simulate a call. On a terminal it then leaves you in "
                    "the shell with the node running, and prints the commands that reach it "
                    "from another terminal. Exit status 0 when the node is ready for Webex, 1 "
                    "when a step failed, 2 for an unusable option.")
    # DIR is not the state itself: a state holds no transcript (procedure.txt), so the
    # demo's files sit beside it. The help says so, and the end of the demo prints the
    # state's path in the commands it hands over.
    parser.add_argument("--state", type=Path, default=None, metavar="DIR",
                        help="a new or empty directory for the demo's files, kept: its state "
                             "in DIR/state (what --state means to the other commands), the demo "
                             "PKI in DIR/pki and the recorded procedure in DIR/procedure.txt. "
                             "Default: a new temporary directory, removed when the demo ends")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary directory (and the keys in it) when the demo ends")
    parser.add_argument("--port", type=int, default=None, metavar="N",
                        help=f"CTI port (default {DEFAULT_PORT}, or a free one when that is taken; "
                             "0 for any free port); a port given here that is taken is refused")
    parser.add_argument("--no-shell", action="store_true",
                        help="do not open the shell at the end, even on a terminal")
    parser.add_argument("--cucm", action="store_true",
                        help="the CUCM part instead: mixed mode, a secure JTAPI application enrolled with "
                             "CAPF, its provider and phone on 2749, a non-secure user refused there")
    from xsp.live import service as live_page
    live_page.add_arguments(parser)
    parser.set_defaults(run=run)


DEFAULT_PORT = 8012


def heading(text: str) -> None:
    print(f"\n### {text}")


def run(args: argparse.Namespace) -> int:
    if args.cucm:
        from xsp.commands.cucmdemo import run_cucm
        return run_cucm(args)
    from xsp.config.store import Store

    port = _choose_port(args.port)
    if port is None:
        return 2
    # Absolute: the commands printed at the end are for another terminal, maybe elsewhere.
    base, temporary = (args.state.absolute() if args.state else None), args.state is None
    if base is None:
        base = Path(tempfile.mkdtemp(prefix="xsp-demo-"))
        kept = "kept (--keep)" if args.keep else "removed when the demo ends (--keep keeps it)"
        print(f"Demo directory {base}: {kept}")
    elif Store(base / "state").exists():
        print(f"xsp: {base / 'state'} already holds a state; the demo starts from a fresh one",
              file=sys.stderr)
        return 1
    elif base.exists() and (not base.is_dir() or any(base.iterdir())):
        print(f"xsp: {base} is not an empty directory; the demo makes its state, PKI and "
              "procedure in a new or empty one", file=sys.stderr)
        return 1
    try:
        return _demo(args, base, port, removed=temporary and not args.keep)
    finally:
        if temporary and not args.keep:
            shutil.rmtree(base, ignore_errors=True)
            print(f"\nRemoved the demo directory {base} and the keys in it.")


def _choose_port(asked: int | None) -> int | None:
    """The CTI port: the default moves to a free one and says so; a port asked for that is
    taken is refused, since the user will type it again elsewhere."""
    from xsp.node.addresses import free_port

    if asked is None:
        port = free_port(DEFAULT_PORT)
        if port != DEFAULT_PORT:
            print(f"Port {DEFAULT_PORT} is taken on 127.0.0.1; the demo's CTI interface uses {port}.")
        return port
    if not 0 <= asked <= 65535:
        print(f"xsp: --port {asked} is out of range; give 1-65535, or 0 for any free port",
              file=sys.stderr)
        return None
    port = free_port(asked)
    if asked == 0:
        print(f"The demo's CTI interface uses port {port}.")
    elif port != asked:
        print(f"xsp: port {asked} is taken on 127.0.0.1; choose another --port, or 0 for any "
              "free one", file=sys.stderr)
        return None
    return port


def _demo(args: argparse.Namespace, base: Path, port: int, *, removed: bool) -> int:
    # Imported here so that `xsp` starts fast for the other commands.
    import xsp_trust as trust
    from xsp import doctor
    from xsp.cli.engine import Engine
    from xsp.cli.session import run_interactive
    from xsp.cli.transcript import Recorder
    from xsp.config.store import Store
    from xsp.node.managed import ManagedNodeControl
    from xsp.procedure import Files, webex_procedure
    from xsp.live import service as live_page
    from xsp.live.address import LivePageError

    try:
        live = live_page.from_arguments(args)
    except LivePageError as exc:
        print(f"xsp: {exc}", file=sys.stderr)
        return 1
    if live is not None:
        print(f"Live page (read-only), from the node's first start: {live.url}")

    state, pki_dir, procedure = base / "state", base / "pki", base / "procedure.txt"
    # Keys go in here: owner-only from the start, as the state directory is.
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
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
    recorder = Recorder(procedure, state)
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
        print(f"\nThe procedure with its answers: {procedure} "
              f"(check it with: xsp replay {procedure} --state NEW_DIR)")
        heading("Webex connects (xsp webex-client) and a call is simulated (xsp sim call)")
        events = asyncio.run(_webex_and_call(control, pki, port))
        heading("Readiness (xsp doctor)")
        findings = doctor.check(store.load(), "xsp1")
        print("\n".join(doctor.render(findings)))
        ready = all(f.ok for f in findings) and events >= MINIMUM_EVENTS
        shell = ready and sys.stdin.isatty() and sys.stdout.isatty() and not args.no_shell
        if ready:
            print("\n".join(handover(state, port, pki, shell_open=shell, removed=removed)))
        if shell:
            return run_interactive(engines["XSP"], store.dir / "history")
        return 0 if ready else 1
    finally:
        control.close()


def handover(state: Path, port: int, pki: "trust.DemoPKI", *, shell_open: bool,
             removed: bool) -> list[str]:
    """The exact commands that reach the demo's node from another terminal: the README's
    examples assume a default state this node does not use, and a PATH that a Makefile's
    virtual environment is not on."""
    xsp = xsp_command()
    on_state = f"XSP_STATE={shlex.quote(str(state))} {xsp}"
    client = (f"{xsp} webex-client --connect 127.0.0.1:{port} "
              f"--cert {shlex.quote(str(pki.webex_client_cert))} "
              f"--key {shlex.quote(str(pki.webex_client_key))} "
              f"--ca {shlex.quote(str(pki.partner_ca))} "
              "--user alice@example.com --user bob@example.com")
    commands = ["Watch the events Webex would get (Ctrl-C stops):", f"  {client}",
                "Make a call:", f"  {on_state} sim call alice@example.com bob@example.com",
                "Open a second shell on the same state:", f"  {on_state} shell"]
    if shell_open:
        ending = ("Exit ends the node, and removes the demo directory and its keys "
                  "(xsp demo --keep keeps them)." if removed else
                  f"Exit ends the node; the state stays in {state}.")
        return ["", "### From another terminal, while this shell runs", *commands,
                "", "The node keeps running while you are in the shell. " + ending]
    if removed:
        return ["", "The node ended with the demo. To serve it again later, run the demo "
                    "with --keep or --state DIR, then xsp serve --state DIR/state."]
    return ["", "### The node ended with the demo. To serve this state again:",
            f"  {xsp} serve --state {shlex.quote(str(state))}",
            "Then, from another terminal:", *commands]


def xsp_command() -> str:
    """How another terminal runs this same xsp: by name when PATH finds this one, else by
    its path (``make demo`` runs it from a virtual environment that PATH does not hold)."""
    script = Path(sys.executable).parent / "xsp"
    if not script.exists():
        return f"{shlex.quote(sys.executable)} -m xsp"
    found = shutil.which("xsp")
    if found and Path(found).resolve() == script.resolve():
        return "xsp"
    return shlex.quote(str(script))


# Two subscription events, then a basic call seen by both parties.
MINIMUM_EVENTS = 2 + 11
QUIET = 0.5  # once the call has ended, the stream is done after this long without an event


async def _webex_and_call(control: "ManagedNodeControl", pki: "trust.DemoPKI", port: int) -> int:
    import xsp_trust as trust
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
