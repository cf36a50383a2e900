"""pytest fixtures for testing against an emulated XSP (installed as the ``xsp`` plugin).

- ``xsp_node``: a running node on a free loopback port, the demo PKI made and the Webex
  configuration applied through the BroadWorks CLI (``xsp.testing.RunningNode``).
- ``webex_client``: a Webex-like client connected to it with the demo client
  certificate, one channel open (``xsp.testing.WebexSession``).
- ``call_driver``: simulated calls on that node (``xsp.testing.CallDriver``).
- ``cucm_node``: an emulated CUCM in mixed mode with a secure JTAPI application user
  (``xsp.testing.RunningCucm``).
- ``jtapi_client``: a JTAPI-like client of it: the CTL trusted, the instance enrolled with
  CAPF, a provider open on 2749 and the phone in service (``xsp.cucm.jtapi.CtiConnection``).

Each is cleaned up after the test: subscriptions and channel deleted, node stopped.
"""
from __future__ import annotations

from typing import Iterator

import pytest

from xsp.cucm.jtapi import CtiConnection
from xsp.testing import CallDriver, RunningCucm, RunningNode, WebexSession


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


@pytest.fixture
def cucm_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCucm]:
    """An emulated CUCM on free loopback ports, configured through its admin: CLI in mixed
    mode with a secure application user, a non-secure one and a phone both control
    (``xsp.testing.RunningCucm``); stopped after the test."""
    node = RunningCucm.start(tmp_path_factory.mktemp("cucm-node"))
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def jtapi_client(cucm_node: RunningCucm) -> Iterator[CtiConnection]:
    """A JTAPI-like client of ``cucm_node``: the CTL trusted, the instance enrolled with CAPF,
    a provider open on 2749 and the phone in service (``xsp.cucm.jtapi.CtiConnection``)."""
    connection = cucm_node.jtapi()
    try:
        yield connection
    finally:
        connection.close()
