"""How another project tests its CTI application against an emulated CUCM, with nothing but
the xsp pytest plugin's fixtures."""
from __future__ import annotations

import pytest

from xsp.cucm.jtapi import JtapiError, start


def test_a_secure_provider_has_its_phone_in_service(cucm_node, jtapi_client):
    events = [m.name for m in jtapi_client.received]
    assert events[-2:] == ["DeviceOpenResponse", "DeviceInServiceEvent"]
    assert jtapi_client.tls_version in ("TLSv1.2", "TLSv1.3")
    assert any("IsCTIConnectionTLS = T" in line for line in cucm_node.trace())


def test_a_non_secure_user_on_the_tls_port_gets_the_cti_error(cucm_node, tmp_path):
    # The secure user's certificate, presented for the non-secure user: CTIManager refuses.
    cucm_node.jtapi().close()
    options = cucm_node.options(secure=True, user=cucm_node.plain_user)
    with pytest.raises(JtapiError) as refused:
        start(options)
    assert refused.value.code == 0x8CCC00E0
