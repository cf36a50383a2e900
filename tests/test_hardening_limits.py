"""What one client may grow on a running node, each limit met over real mTLS on loopback:
the limit is set with ``emu limit`` and a restart, a client over it is told in the way its
interface allows, and one log line (rate-limited) says so."""
from __future__ import annotations

import logging
import socket
import ssl
import time
from pathlib import Path

import pytest

from tests._node_support import (HOST, MatrixPKI, client_context, configured_node, make_pki)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> MatrixPKI:
    """The matrix PKI (demo CAs and clients) this module's nodes trust."""
    return make_pki(tmp_path_factory.mktemp("limits-pki"))


def handshake(port: int, context: ssl.SSLContext) -> ssl.SSLSocket:
    raw = socket.create_connection((HOST, port), timeout=5)
    return context.wrap_socket(raw, server_hostname=HOST)


def closed_by_server(tls: ssl.SSLSocket, wait: float = 1.0) -> bool:
    tls.settimeout(wait)
    try:
        return tls.recv(1) == b""
    except TimeoutError:
        return False
    except (ssl.SSLError, ConnectionError):
        return True


def test_a_client_over_its_connection_limit_is_closed_after_the_handshake_others_are_not(
        tmp_path: Path, pki: MatrixPKI, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="xsp.cti")
    with configured_node(tmp_path, pki, extra=("emu limit connectionsPerClient 3",)) as node:
        webex = client_context(pki, pki.webex_leaf())
        held = [handshake(node.port, webex) for _ in range(3)]
        over = [handshake(node.port, webex) for _ in range(5)]
        other = handshake(node.port, client_context(pki, pki.intruder))  # another CN
        try:
            assert [closed_by_server(t) for t in over] == [True] * 5
            assert [closed_by_server(t, 0.2) for t in [*held, other]] == [False] * 4
            held.pop().close()
            time.sleep(0.2)
            again = handshake(node.port, webex)  # a place is free again
            assert not closed_by_server(again, 0.5)
            held.append(again)
        finally:
            for tls in [*held, *over, other]:
                tls.close()
        lines = [r.getMessage() for r in caplog.records if "connectionsPerClient" in r.getMessage()]
        assert len(lines) == 1, lines  # five refusals, one line within ten seconds
        assert lines[0].startswith(f"CTI xsp1 {HOST}:{node.port}: refused {HOST}:")
        assert lines[0].endswith("(bwcticlient.webex.com): it holds 3 connections, the limit "
                                 "of one client (emu limit connectionsPerClient); "
                                 "connection closed")
