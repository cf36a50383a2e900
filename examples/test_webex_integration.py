"""What a Webex-side integration test looks like with the xsp pytest plugin.

Install xsp in the test environment (`pip install xsp`) and the fixtures are there;
this file uses nothing but them.
"""


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


def test_a_cipher_change_applies_after_restart(xsp_node, webex_client):
    xsp_node.cli("cd /Interface/CTI/CTIServer/SSLSettings/Ciphers")
    xsp_node.cli(f"add {xsp_node.host} TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")
    assert "Node xsp1 restarted." in xsp_node.restart()
    webex_client.subscribe("bob@example.com")
    assert webex_client.next_event().type == "CallSubscriptionEvent"
