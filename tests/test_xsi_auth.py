"""Who may use the API: 401 without a certificate, 403 for a CN that is not a
ClientIdentity, 403 while allowClientApp is false; each an ErrorInfo and one log line
saying who, from where and why. Changes apply to the next request. A listener without
client authentication serves the anonymous client."""
from __future__ import annotations

import logging

import aiohttp
import pytest

from tests._xsi_support import (HOST, NS, WEBEX_CN, Policy, client_context, make_hub, next_events,
                                pki, run, serve, server_context, webex)
from xsp.cti.auth import Authorizer, ClientPolicy, subject_common_name
from xsp.webex.received import ErrorReply, read_document
from xsp.webex.client import ASYNC_ROOT, RequestFailed, WebexClient

CHANNEL = (f'<Channel xmlns="{NS}"><channelSetId>s</channelSetId>'
           "<expires>60</expires></Channel>")


async def open_channel(port: int, cert, *, scheme: str = "https") -> tuple[int, str]:
    context = client_context(cert) if scheme == "https" else None
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{scheme}://{HOST}:{port}{ASYNC_ROOT}/channel", data=CHANNEL,
                                ssl=context if context else False) as response:
            if response.status == 200:
                return 200, (await response.content.readany()).decode()
            return response.status, await response.text()


def refusal_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "xsp.cti" and "refused" in r.getMessage()]


@pytest.mark.parametrize("case, status, code, summary, who", [
    ("no certificate", 401, 40101, "A client certificate is required and none was presented",
     "(no certificate)"),
    ("unknown identity", 403, 40302,
     "Client identity intruder.example.com is not in AS_CLI/System/ClientIdentity",
     "intruder.example.com"),
    ("client app disabled", 403, 40301,
     "Certificate authentication of client applications is disabled "
     "(CertificateAuthentication allowClientApp is false)", WEBEX_CN),
])
def test_a_refused_client_gets_error_info_and_one_log_line(caplog, case, status, code, summary, who):
    caplog.set_level(logging.INFO, logger="xsp.cti")
    cert = {"no certificate": None, "unknown identity": pki().intruder,
            "client app disabled": pki().webex}[case]
    policy = Policy(allow_client_app=case != "client app disabled")

    async def scenario():
        hub = make_hub()
        # The TLS layer asks for a certificate without insisting, so the application
        # decides about a client without one.
        async with serve(hub, policy, context=server_context(require_certificate=False)) as port:
            got, text = await open_channel(port, cert)
            assert (got, read_document(text)) == (status, ErrorReply(summary, code))
            assert hub.channel_count == 0
    run(scenario())
    (line,) = refusal_lines(caplog)
    assert line.startswith(f"test 127.0.0.1:8012: refused {who} from 127.0.0.1:")
    assert line.endswith(f"{summary} (HTTP {status})")


def test_identity_and_allow_client_app_changes_apply_to_the_next_request(caplog):
    policy = Policy(identities=set(), allow_client_app=False)

    async def scenario():
        hub = make_hub()
        async with serve(hub, policy) as port:
            assert (await open_channel(port, pki().webex))[0] == 403
            policy.allow_client_app = True
            assert (await open_channel(port, pki().webex))[0] == 403
            policy.identities.add(WEBEX_CN.upper())  # DNS names compare without case
            status, text = await open_channel(port, pki().webex)
            assert status == 200 and "<channelId>" in text
    run(scenario())


def test_a_refused_websocket_upgrade_is_the_same_http_refusal():
    async def scenario():
        hub = make_hub()
        async with serve(hub) as port:
            with pytest.raises(RequestFailed) as refused:
                async with webex(port, pki().intruder, transport="ws"):
                    pass
            assert (refused.value.status, refused.value.error_code) == (403, 40302)
            assert "intruder.example.com is not in AS_CLI/System/ClientIdentity" in str(refused.value)
    run(scenario())


def test_a_plain_listener_serves_the_anonymous_client_whose_events_carry_user_id():
    async def scenario():
        hub = make_hub()
        policy = Policy(allow_client_app=False)  # certificate authentication plays no part
        async with serve(hub, policy, context=None, require_certificate=False) as port:
            async with WebexClient(HOST, port, ssl_context=None, transport="http") as client:
                await client.subscribe("bob@example.com")
                (first,) = await next_events(client, 1)
                assert (first.user_id, first.client_id, first.target_id) == (
                    "bob@example.com", None, "bob@example.com")
    run(scenario())


def test_the_client_identity_is_the_most_specific_subject_cn():
    certificate = {"subject": ((("organizationName", "Cisco"),), (("commonName", "webex.com"),),
                               (("commonName", "bwcticlient.webex.com"),))}
    assert subject_common_name(certificate) == "bwcticlient.webex.com"
    assert subject_common_name({"subject": ((("organizationName", "Cisco"),),)}) is None


def test_a_request_reads_the_configuration_once_for_both_checks():
    """allowClientApp and ClientIdentity come from one read of the store per request."""
    reads: list[int] = []

    def policy() -> ClientPolicy:
        reads.append(1)
        return ClientPolicy([WEBEX_CN.upper()], True)  # compared without regard to case

    class Verified:  # what a TLS transport says of a verified peer certificate
        def get_extra_info(self, name, default=None):
            return {"subject": ((("commonName", WEBEX_CN),),)} if name == "peercert" else default

    client = Authorizer(policy).authorize(Verified())
    assert (client.client_id, len(reads)) == (WEBEX_CN, 1)
