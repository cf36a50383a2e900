"""pytest fixtures for testing against an emulated XSP (installed as the ``xsp`` plugin).

- ``xsp_node``: a running node on a free loopback port, the demo PKI made and the Webex
  configuration applied through the BroadWorks CLI (``xsp.testing.RunningNode``).
- ``webex_client``: a Webex-like client connected to it with the demo client
  certificate, one channel open (``xsp.testing.WebexSession``).
- ``call_driver``: simulated calls on that node (``xsp.testing.CallDriver``).

Each is cleaned up after the test: subscriptions and channel deleted, node stopped.
"""
from __future__ import annotations

from typing import Iterator

import pytest

from xsp.testing import CallDriver, RunningNode, WebexSession


@pytest.fixture
def xsp_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    """A running emulated XSP on a free loopback port: demo PKI made, the Webex
    configuration applied through the BroadWorks CLI; stopped after the test."""
    node = RunningNode.start(tmp_path_factory.mktemp("xsp-node"))
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def webex_client(xsp_node: RunningNode) -> Iterator[WebexSession]:
    """A Webex-like client connected to ``xsp_node`` over mTLS with the demo client
    certificate, one channel open; its subscriptions and channel deleted after the test."""
    with xsp_node.webex_client() as client:
        yield client


@pytest.fixture
def call_driver(xsp_node: RunningNode) -> CallDriver:
    """Simulated calls on ``xsp_node`` (``call_driver.call(caller, callee, ...)``); their
    events reach the subscribers."""
    return CallDriver(xsp_node)
