"""TLSSite in aiohttp's runner/site split: restart with a fresh SSLContext while the
application keeps running; plain TCP; stopping; a port already taken."""
from __future__ import annotations

import http.client
import socket
import time

import pytest
from aiohttp import web

from _listener_support import (
    HOST, LoopThread, Listener, client_context, get_whoami, make_app, pki, refused_reason,
    running_listener, server_context)
from xsp.listener.site import TLSSite


def test_a_restart_with_a_new_context_refuses_what_the_old_one_accepted():
    p = pki()
    with running_listener(server_context()) as (lst, port):
        assert get_whoami(port, client_context(p.good))["cn"] == "webex-client"
        # A keep-alive connection established under the first context.
        kept = http.client.HTTPSConnection(HOST, port, context=client_context(p.good), timeout=5)
        kept.request("GET", "/whoami")
        assert kept.getresponse().read()

        lst.stop_site()
        assert lst.start(server_context(anchors=(p.evil_root,)), port=port) == port

        assert refused_reason(port, client_context(p.good)) == "TLSV1_ALERT_UNKNOWN_CA"
        [refusal] = lst.wait_refusals(1)
        assert (refusal.alert, refusal.subject) == ("unknown_ca", "webex-client")
        assert get_whoami(port, client_context(p.intruder))["cn"] == "intruder"
        # The connection accepted before the restart still talks to the same application.
        kept.request("GET", "/whoami")
        response = kept.getresponse()
        assert response.status == 200 and b"webex-client" in response.read()
        kept.close()


def test_stopping_refuses_handshakes_in_progress_and_closes_the_port():
    with running_listener(server_context()) as (lst, port):
        with socket.create_connection((HOST, port), timeout=5) as stalled:
            deadline = time.monotonic() + 5
            while lst.loop.call(lambda: lst.site.handshakes_in_progress) != 1:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            lst.stop_site()
            assert stalled.recv(100) == b""
        [refusal] = lst.wait_refusals(1)
        assert (refusal.reason, refusal.alert) == (
            "listener stopped before the handshake completed", None)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((HOST, port), timeout=2).close()
        with pytest.raises(RuntimeError, match="not listening"):
            lst.site.bound
        lst.start(server_context())  # so that cleanup finds a registered site again


def test_without_a_context_the_site_serves_plain_http():
    with running_listener(None) as (lst, port):
        connection = http.client.HTTPConnection(HOST, port, timeout=5)
        connection.request("GET", "/whoami")
        response = connection.getresponse()
        assert response.status == 200
        assert b'"cn": null' in response.read()
        connection.close()
        assert lst.site.name == f"http://{HOST}:{port}"


def test_a_port_in_use_leaves_the_runner_able_to_start_another_site():
    loop = LoopThread()
    listener = Listener(loop, make_app())
    taken = socket.socket()
    taken.bind((HOST, 0))
    taken.listen()
    try:
        with pytest.raises(OSError):
            listener.start(server_context(), port=taken.getsockname()[1])
        assert listener.runner.sites == set()
        port = listener.start(server_context())
        assert get_whoami(port, client_context(pki().good))["cn"] == "webex-client"
        assert listener.site.name == f"https://{HOST}:{port}"
    finally:
        taken.close()
        listener.cleanup()
        loop.close()


def test_a_site_needs_a_runner_that_was_set_up():
    with pytest.raises(RuntimeError, match="runner.setup"):
        TLSSite(web.AppRunner(web.Application()), HOST, 0, None, label="x")
