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
    node = RunningNode.start(tmp_path_factory.mktemp("xsp-node"))
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def webex_client(xsp_node: RunningNode) -> Iterator[WebexSession]:
    with xsp_node.webex_client() as client:
        yield client


@pytest.fixture
def call_driver(xsp_node: RunningNode) -> CallDriver:
    return CallDriver(xsp_node)


@pytest.fixture
def cucm_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCucm]:
    node = RunningCucm.start(tmp_path_factory.mktemp("cucm-node"))
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def jtapi_client(cucm_node: RunningCucm) -> Iterator[CtiConnection]:
    connection = cucm_node.jtapi()
    try:
        yield connection
    finally:
        connection.close()
