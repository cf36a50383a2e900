"""Revoking a client reaches its open channels at once: deleting its CN from the AS's
ClientIdentity, or setting allowClientApp false, ends each of its channels with
ChannelTerminatedEvent (ExplicitDelete, the emulator's choice from the schema's list)
within a second, not at the channel's expiry, and its next request is refused. Each
case runs over real mTLS against a node configured by the guide's procedure."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests._node_support import (HOST, ConfiguredNode, MatrixPKI, configured_node, free_port,
                                 make_pki)
from tests.test_ctiproto_interface import (CTX, XSI, Wire, error_summary, event_response,
                                           event_type, keepalive, open_channel, request, status,
                                           subscribe, subscription_body, text, xsi)
from xsp.procedure import CERT_AUTH, CLIENT_IDENTITY, WEBEX_CLIENT_CN
from xsp.webex.client import RequestFailed, WebexClient, tls_context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> MatrixPKI:
    """The matrix PKI (demo CAs and clients) this module's nodes trust."""
    return make_pki(tmp_path_factory.mktemp("revocation-pki"))


def webex(pki: MatrixPKI, port: int, channel_set_id: str) -> WebexClient:
    context = tls_context(str(pki.demo.webex_client_cert), str(pki.demo.webex_client_key),
                          str(pki.demo.partner_ca))
    return WebexClient(HOST, port, ssl_context=context, request_timeout=5,
                       channel_set_id=channel_set_id)


@pytest.mark.parametrize("revoke, refusal", [
    (("AS", f"cd {CLIENT_IDENTITY}", f"delete {WEBEX_CLIENT_CN}"),
     f"Client identity {WEBEX_CLIENT_CN} is not in AS_CLI/System/ClientIdentity"),
    (("XSP", f"cd {CERT_AUTH}", "set allowClientApp false"),
     "Certificate authentication of client applications is disabled "
     "(CertificateAuthentication allowClientApp is false)"),
], ids=["client-identity-deleted", "allow-client-app-false"])
def test_revoking_a_client_ends_its_open_channels_at_once_and_refuses_its_next_request(
        tmp_path: Path, pki: MatrixPKI, revoke: tuple[str, ...], refusal: str) -> None:
    with configured_node(tmp_path, pki, test_anchor=False) as node:
        run = node.run_as if revoke[0] == "AS" else node.run

        async def scenario() -> None:
            async with webex(pki, node.port, "revoked-set") as client:
                subscription = await client.subscribe("alice@example.com")
                stream = client.events().__aiter__()
                first = await asyncio.wait_for(anext(stream), 5)
                assert first.subscription_id == subscription
                (channel_id,) = client.channel_ids
                started = time.monotonic()
                await asyncio.to_thread(run, *revoke[1:])
                ended = await asyncio.wait_for(anext(stream), 5)
                assert time.monotonic() - started < 2
                assert (ended.type, ended.channel_id, ended.fields) == (
                    "ChannelTerminatedEvent", channel_id, {"reason": "ExplicitDelete"})
                with pytest.raises(RequestFailed) as refused:
                    await client.subscribe("bob@example.com")
                assert (refused.value.status, refused.value.summary) == (403, refusal)
        asyncio.run(scenario())


def xsi_interface(node: ConfiguredNode) -> int:
    """Give the node its Xsi interface (``emu xsi``) beside the CTI interface; its port."""
    port = free_port()
    node.run(f"emu xsi {port}")
    node.restart()
    return port


REVOCATIONS = [
    (("AS", f"cd {CLIENT_IDENTITY}", f"delete {WEBEX_CLIENT_CN}"),
     f"Client identity {WEBEX_CLIENT_CN} is not in AS_CLI/System/ClientIdentity"),
    (("XSP", f"cd {CERT_AUTH}", "set allowClientApp false"),
     "Certificate authentication of client applications is disabled "
     "(CertificateAuthentication allowClientApp is false)"),
]
REVOCATION_IDS = ["client-identity-deleted", "allow-client-app-false"]


@pytest.mark.parametrize("transport", ["cti", "http", "ws"])
@pytest.mark.parametrize("revoke, refusal", REVOCATIONS, ids=REVOCATION_IDS)
def test_revocation_ends_both_channels_and_refuses_the_next_request_on_every_interface(
        tmp_path: Path, pki: MatrixPKI, transport: str, revoke: tuple[str, ...],
        refusal: str) -> None:
    """The same client with two channels on the CTI interface (its default) and on the
    Xsi interface (HTTP streaming, and the emulator's WebSocket mapping): both channels
    end with their termination event, and its next request is refused."""
    with configured_node(tmp_path, pki, test_anchor=False) as node:
        port = node.port if transport == "cti" else xsi_interface(node)
        run = node.run_as if revoke[0] == "AS" else node.run

        async def scenario() -> None:
            context = tls_context(str(pki.demo.webex_client_cert),
                                  str(pki.demo.webex_client_key), str(pki.demo.partner_ca))
            client = WebexClient(HOST, port, ssl_context=context, request_timeout=5,
                                 channel_set_id="revoked-set", transport=transport,
                                 channels=2)
            async with client:
                assert client.transport == transport
                await client.subscribe("alice@example.com")
                stream = client.events().__aiter__()
                first = await asyncio.wait_for(anext(stream), 5)
                assert first.type == "CallSubscriptionEvent"
                channel_ids = sorted(client.channel_ids)
                assert len(channel_ids) == 2
                started = time.monotonic()
                await asyncio.to_thread(run, *revoke[1:])
                ended = [await asyncio.wait_for(anext(stream), 5) for _ in range(2)]
                assert time.monotonic() - started < 2
                assert sorted((e.type, e.channel_id, e.fields["reason"]) for e in ended) == sorted(
                    ("ChannelTerminatedEvent", c, "ExplicitDelete") for c in channel_ids)
                with pytest.raises(StopAsyncIteration):  # no channel left to carry events
                    await asyncio.wait_for(anext(stream), 1)
                with pytest.raises(RequestFailed) as refused:
                    await client.subscribe("bob@example.com")
                assert (refused.value.status, refused.value.summary) == (403, refusal)
        asyncio.run(scenario())


@pytest.mark.parametrize("revoke, refusal", REVOCATIONS, ids=REVOCATION_IDS)
def test_revocation_reaches_a_hand_written_cti_client_on_its_open_connection(
        tmp_path: Path, pki: MatrixPKI, revoke: tuple[str, ...], refusal: str) -> None:
    """A client written from the protocol note alone, two channels on one connection:
    both end with ChannelTerminatedEvent at once, nothing else comes on the connection,
    and its next request on that same connection gets a 403 response with ErrorInfo."""
    with configured_node(tmp_path, pki, test_anchor=False) as node:
        run = node.run_as if revoke[0] == "AS" else node.run

        async def scenario() -> None:
            context = tls_context(str(pki.demo.webex_client_cert),
                                  str(pki.demo.webex_client_key), str(pki.demo.partner_ca))
            wire = await Wire.connect(node.port, context)
            channels = {await open_channel(wire, "1"), await open_channel(wire, "2")}
            await subscribe(wire, "3")
            (first,) = await wire.events(1)
            assert event_type(first) == "CallSubscriptionEvent"
            await wire.send(event_response(text(first, "requestId") or "",
                                           text(xsi(first), f"{{{XSI}}}eventID") or ""))
            started = time.monotonic()
            await asyncio.to_thread(run, *revoke[1:])
            ended = await wire.events(2)
            assert time.monotonic() - started < 2
            assert [event_type(e) for e in ended] == ["ChannelTerminatedEvent"] * 2
            assert {text(xsi(e), f"{{{XSI}}}channelId") for e in ended} == channels
            assert {text(xsi(e), f"{{{XSI}}}reason") for e in ended} == {"ExplicitDelete"}
            await asyncio.to_thread(node.thread.call, node.thread.host.simulator.run_call(
                "alice@example.com", "bob@example.com", answer_after=0, release_after=0))
            await wire.send(request("4", "AddUserSubscriptionRequest",
                                    f"{CTX}/user/{{userId}}", "POST", subscription_body(),
                                    "<userId>bob@example.com</userId>"))
            answer = await wire.response("4")
            assert (status(answer), error_summary(answer)) == ((403, "Forbidden"), refusal)
            assert wire.stashed == []  # no event of the call came before the refusal
            await wire.send(keepalive("5", 60))  # the connection itself stays
            assert text(await wire.receive(), "requestId") == "5"
            await wire.close()
        asyncio.run(scenario())
