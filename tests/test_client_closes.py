"""A client that closes right after its request: not a refusal, whatever the timing, on
the Xsi interface (HTTP) and on the CTI interface."""
from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator

import pytest

from _listener_support import bio_handshake
from _node_support import (HOST, ConfiguredNode, MatrixPKI, capture, client_context,
                           configured_node, free_port, make_pki)

REQUEST = b"GET /com.broadsoft.xsi-events/v2.0/channelset/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
CTI_REQUEST = (b'<xsp:request xmlns:xsp="http://schema.broadsoft.com/XspXMLInterface">'
               b"<requestId>1</requestId><sessionId>s</sessionId>"
               b'<cti:GetChannelSetRequest xmlns:cti="http://schema.broadsoft.com/CTI">'
               b"<uri>/com.broadsoft.xsi-events/v2.0/channelset/x</uri><method>GET</method>"
               b"</cti:GetChannelSetRequest></xsp:request>")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> MatrixPKI:
    """The certificates of the node tests (``make_pki``), made once for the module."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, pki: MatrixPKI) -> Iterator[ConfiguredNode]:
    """A node configured by the guide's procedure, shared by the module."""
    with configured_node(tmp_path_factory.mktemp("node"), pki) as running:
        running.xsi_port = free_port()
        running.run(f"emu xsi {running.xsi_port}")
        running.restart()
        yield running


def _request_and_close_at_once(port: int, context: ssl.SSLContext,
                               request: bytes = REQUEST) -> None:
    """The client's last handshake flight, its request and its close_notify leave in one
    segment, followed by its FIN: the node reads the request and the close together."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = context.wrap_bio(incoming, outgoing, server_hostname=HOST)
    with socket.create_connection((HOST, port), timeout=5) as sock:
        bio_handshake(client, incoming, outgoing, sock)
        client.write(request)
        try:
            client.unwrap()
        except ssl.SSLWantReadError:
            pass  # it does not wait for the node's close_notify
        sock.sendall(outgoing.read())
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(65536):
            pass


def test_a_valid_client_closing_right_after_its_request_is_not_refused(
        node: ConfiguredNode, pki: MatrixPKI, caplog: pytest.LogCaptureFixture) -> None:
    """Its certificate went with the connection, so the request is not run, and the
    node says so instead of "refused (no certificate)"."""
    capture(caplog)
    _request_and_close_at_once(node.xsi_port, client_context(pki, pki.partial_chain))
    said = f"xsp1 {HOST}:{node.xsi_port}: {HOST} closed the connection before its request (GET "
    deadline = time.monotonic() + 5
    while not any(said in line for line in _lines(caplog)) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # a refusal line, if there were one, would be there by now
    lines = _lines(caplog)
    assert [line for line in lines if said in line] == [
        f"{said}/com.broadsoft.xsi-events/v2.0/channelset/x) was handled; not run"], lines
    assert not [line for line in lines if "refused" in line], lines


def test_a_cti_request_with_the_close_right_behind_it_is_not_refused(
        node: ConfiguredNode, pki: MatrixPKI, caplog: pytest.LogCaptureFixture) -> None:
    """The CTI interface reads the request while the connection still holds the client's
    certificate, so it is authorized and run as any other; only the answer is lost."""
    capture(caplog)
    _request_and_close_at_once(node.port, client_context(pki, pki.partial_chain), CTI_REQUEST)
    time.sleep(0.3)  # a refusal line, if there were one, would be there by now
    assert not [line for line in _lines(caplog) if "refused" in line], _lines(caplog)


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "xsp.cti"]
