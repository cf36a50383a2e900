"""The node's server contexts release an idle connection's record buffers
(SSL_MODE_RELEASE_BUFFERS), and handshakes and data still flow with it."""
from __future__ import annotations

from _listener_support import get_whoami, pki, running_listener
from _tls_support import client_context, server_context
from xsp.tls import buffers, libssl


def test_a_server_context_releases_idle_buffers_and_still_serves(tmp_path):
    _, context = server_context(tmp_path, ("TLSv1.2", "TLSv1.3"),
                                ("TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
                                require_client_cert=True, anchors=[pki().root.cert_pem])
    mode = buffers._ctrl(libssl.ssl_ctx(context), buffers._SSL_CTRL_MODE, 0, None)
    assert mode & buffers.SSL_MODE_RELEASE_BUFFERS
    with running_listener(context) as (_, port):
        for version in ("TLSv1.2", "TLSv1.3"):
            client = client_context(versions=[version], certificate=pki().good)
            assert get_whoami(port, client)["cn"] == "webex-client"
