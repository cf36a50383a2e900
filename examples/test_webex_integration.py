"""What a Webex-side integration test looks like with the xsp pytest plugin.

xsp is not on a package index: install it into the test environment from its source,
`pip install PATH` with PATH a checkout of the xsp repository (`pip install -e PATH` to
follow changes to the checkout). The fixtures are then there; this file uses nothing
but them.
"""
import pytest

from xsp.webex.client import WebexClientError


def test_a_call_reaches_the_webex_subscriber(xsp_node, webex_client, call_driver):
    webex_client.subscribe("alice@example.com")
    first = webex_client.next_event()
    assert first.type == "CallSubscriptionEvent"
    assert first.client_id == "bwcticlient.webex.com"

    call_driver.call("alice@example.com", "bob@example.com", answer_after=0.1, release_after=0.1)

    seen = []
    while "CallReleasedEvent" not in seen:
        seen.append(webex_client.next_event(timeout=5).type)
    assert seen[:2] == ["HookStatusEvent", "CallOriginatedEvent"]
    assert "CallAnsweredEvent" in seen


def test_without_the_issuing_ca_anchor_webex_is_refused(xsp_node):
    xsp_node.cli("cd /Interface/CTI/SSLCommonSettings/ClientAuthentication/Trusts")
    xsp_node.cli("delete webexclientissuing2023")
    xsp_node.cli("delete webexclientroot2023")
    xsp_node.restart()
    with pytest.raises(WebexClientError, match="TLSV1_ALERT_UNKNOWN_CA"):
        xsp_node.webex_client()
