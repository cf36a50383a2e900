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

from tests._node_support import HOST, MatrixPKI, configured_node, make_pki
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
