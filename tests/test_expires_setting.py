"""The maximum expires of channels and subscriptions is a setting (``emu limit
maxChannelExpires`` / ``maxSubscriptionExpires``, the emulator's), shown by ``emu
limits`` and applied at the next restart: a real channel and subscription asking for
more are granted the maximum, and one asking for less than 3600 s gets 3600."""
from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests._node_support import MatrixPKI, configured_node, make_pki
from tests.test_ctiproto_interface import (CTX, XSI, XSP, Wire, channel_body, request, status,
                                           subscription_body, text)
from xsp.config.fields import ModelError
from xsp.config.model import Limits
from xsp.webex.client import tls_context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> MatrixPKI:
    """The matrix PKI (demo CAs and clients) this module's nodes trust."""
    return make_pki(tmp_path_factory.mktemp("expires-pki"))


async def granted(port: int, pki: MatrixPKI, asked: int, set_id: str) -> tuple[int, int]:
    """The expires a new channel and a new subscription asking for ``asked`` get, over
    the CTI interface."""
    context = tls_context(str(pki.demo.webex_client_cert), str(pki.demo.webex_client_key),
                          str(pki.demo.partner_ca))
    wire = await Wire.connect(port, context)
    expires = f"<expires>{asked}</expires>"
    await wire.send(request("1", "AddChannelRequest", f"{CTX}/channel", "POST",
                            channel_body(set_id).replace("<expires>3600</expires>", expires)))
    channel = await wire.response("1")
    await wire.send(request("2", "AddUserSubscriptionRequest", f"{CTX}/user/alice@example.com",
                            "POST", subscription_body(set_id).replace("<expires>3600</expires>",
                                                                      expires)))
    subscription = await wire.response("2")
    await wire.close()
    for answer in (channel, subscription):
        assert status(answer) == (200, "OK"), ET.tostring(answer)
    return (int(text(channel, f"{{{XSP}}}payload/{{{XSI}}}Channel/{{{XSI}}}expires") or 0),
            int(text(subscription,
                     f"{{{XSP}}}payload/{{{XSI}}}Subscription/{{{XSI}}}expires") or 0))


def test_the_maximum_expires_is_a_setting_shown_and_applied_at_restart(
        tmp_path: Path, pki: MatrixPKI) -> None:
    with configured_node(tmp_path, pki, test_anchor=False) as node:
        assert asyncio.run(granted(node.port, pki, 10**6, "before")) == (86400, 86400)
        assert node.run("emu limit maxChannelExpires 7200",
                        "emu limit maxSubscriptionExpires 5000").count("...Done") == 2
        shown = node.run("emu limits").splitlines()
        assert [line.split() for line in shown if "Expires" in line] == [
            ["maxChannelExpires", "7200", "longest", "expires", "granted", "to", "a",
             "channel,", "seconds"],
            ["maxSubscriptionExpires", "5000", "longest", "expires", "granted", "to", "a",
             "subscription,", "seconds"]]
        # not before the restart
        assert asyncio.run(granted(node.port, pki, 10**6, "pending")) == (86400, 86400)
        node.restart()
        assert asyncio.run(granted(node.port, pki, 10**6, "after")) == (7200, 5000)
        assert asyncio.run(granted(node.port, pki, 600, "short")) == (3600, 3600)


@pytest.mark.parametrize("line, refusal", [
    ("emu limit maxChannelExpires 600",
     "Error: value: 600 is out of range for maxChannelExpires; expected 3600 (the minimum "
     "expires) to 10000000"),
    ("emu limit maxSubscriptionExpires 3599",
     "Error: value: 3599 is out of range for maxSubscriptionExpires; expected 3600 (the "
     "minimum expires) to 10000000"),
])
def test_a_maximum_below_the_minimum_expires_is_refused_and_changes_nothing(
        tmp_path: Path, pki: MatrixPKI, line: str, refusal: str) -> None:
    with configured_node(tmp_path, pki, test_anchor=False) as node:
        result = node.xsp.execute(line)
        assert (result.ok, result.text) == (False, refusal)
        assert node.store.load().limits == Limits()


def test_a_hand_edited_maximum_below_the_minimum_is_refused() -> None:
    with pytest.raises(ModelError) as refused:
        Limits(max_channel_expires=600)
    assert str(refused.value) == ("max_channel_expires: expected a whole number of at least "
                                  "3600, got 600")
