"""The node's two interfaces: the CTI interface on every CTIServer port (the CTI
interface protocol) and, when ``emu xsi`` gives it a port, the Xsi interface (HTTP
Xsi-Events) on the same addresses. Both share one hub: a channel set may hold a channel
on each, and an event not acknowledged on one goes to the other."""
from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from tests._node_support import HOST, NODE, MatrixPKI, configured_node, free_port, make_pki
from xsp.webex.client import WebexClient, WebexClientError, tls_context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> MatrixPKI:
    """The matrix PKI (demo CAs and clients) this module's nodes trust."""
    return make_pki(tmp_path_factory.mktemp("node-interfaces-pki"))


def client(pki: MatrixPKI, port: int, transport: str, **options) -> WebexClient:
    context = tls_context(str(pki.demo.webex_client_cert), str(pki.demo.webex_client_key),
                          str(pki.demo.partner_ca))
    return WebexClient(HOST, port, ssl_context=context, transport=transport, request_timeout=5,
                       **options)


def test_emu_xsi_opens_the_xsi_interface_on_its_own_port_sharing_the_hub(tmp_path: Path,
                                                                           pki: MatrixPKI) -> None:
    with configured_node(tmp_path, pki, test_anchor=False) as node:
        xsi_port = free_port()
        answer = node.run(f"emu xsi {xsi_port}")
        assert answer.splitlines()[0] == "...Done"
        lines = node.restart()
        assert lines[-4:] == [
            "CTI listeners:",
            f"  {HOST}:{node.port}  TLS, client certificate required; listening on {HOST}:{node.port}",
            "Xsi interface listeners (HTTP Xsi-Events; emu xsi):",
            f"  {HOST}:{xsi_port}  TLS, client certificate required; listening on {HOST}:{xsi_port}"]

        async def scenario() -> None:
            async with client(pki, node.port, "cti", channel_set_id="shared") as cti, \
                    client(pki, xsi_port, "http", channel_set_id="shared") as http:
                await cti.subscribe("alice@example.com")
                # one channel on each interface in the same set: the first event reaches one
                first = await asyncio.wait_for(_first(cti, http), 5)
                assert first.type == "CallSubscriptionEvent"
                audit = await http.audit()
                assert audit.count("<channelId>") == 2
                assert set(cti.channel_ids + http.channel_ids) == set(
                    re.findall(r"<channelId>([^<]+)</channelId>", audit))
            # the CTI port does not speak HTTP, nor the Xsi port the CTI protocol
            with pytest.raises(WebexClientError, match="does not speak the CTI interface protocol"):
                async with client(pki, xsi_port, "cti"):
                    pass

        asyncio.run(scenario())


async def _first(*clients: WebexClient):
    streams = [asyncio.ensure_future(anext(aiter(c.events()))) for c in clients]
    done, pending = await asyncio.wait(streams, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return done.pop().result()


@pytest.mark.parametrize("line, answer", [
    ("emu xsi 70000", "Error: port: 70000 is not a port; expected 1-65535 or off"),
    ("emu xsi soon", "Error: port: soon is not a port; expected 1-65535 or off"),
])
def test_emu_xsi_refuses_what_is_not_a_port(tmp_path: Path, pki: MatrixPKI, line: str,
                                            answer: str) -> None:
    with configured_node(tmp_path, pki, test_anchor=False) as node:
        result = node.xsp.execute(line)
        assert (result.ok, result.text) == (False, answer)
        result = node.xsp.execute(f"emu xsi {node.port}")
        assert result.text == (f"Error: port: {node.port} is the CTI interface's port on {HOST}; "
                               "the Xsi interface needs a port of its own")
        assert node.store.load().node(NODE).xsp.xsi_port is None


def test_xsp_testing_reaches_either_interface(tmp_path: Path) -> None:
    from xsp.testing import CommandFailed, RunningNode
    with RunningNode.start(tmp_path) as node:
        with pytest.raises(CommandFailed, match="no Xsi interface; call enable_xsi"):
            node.webex_client(transport="http")
        node.enable_xsi()
        # two applications: one certificate's clients of one application are one set
        with node.webex_client(application_id="cti-app") as cti, \
                node.webex_client(transport="http", application_id="xsi-app") as http:
            cti.subscribe("alice@example.com")
            http.subscribe("bob@example.com")
            assert cti.next_event().target_id == "alice@example.com"
            assert http.next_event().target_id == "bob@example.com"


def test_doctor_probe_subscribes_over_the_cti_interface(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from xsp.testing import RunningNode
    with RunningNode.start(tmp_path) as node:
        pki = node.pki
        env = {k: v for k, v in os.environ.items() if k != "XSP_STATE"}
        result = subprocess.run(
            [sys.executable, "-m", "xsp", "doctor", "--state", str(node.store.dir), "--probe",
             "--cert", str(pki.webex_client_cert), "--key", str(pki.webex_client_key),
             "--ca", str(pki.partner_ca)], capture_output=True, text=True, env=env, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        assert (f"[PASS] a client with {pki.webex_client_cert} is accepted and subscribed: "
                f"handshake with 127.0.0.1:{node.port}, CTI interface protocol, then "
                "CallSubscriptionEvent for alice@example.com") in result.stdout
