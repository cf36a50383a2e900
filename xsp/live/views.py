"""Reading the running node into the live page's views (``model``).

The only module of the page that knows the node's insides: its listeners, their suite
plans, the stored configuration and the event hub. The feed calls it on the node's
event loop, so what it reads is never half-changed.
"""
from __future__ import annotations

import functools
import logging
import time
from collections import Counter
from typing import TYPE_CHECKING, Protocol

from xsp.config.model import Deployment, Node
from xsp.config.store import ConfigFileError
from xsp.live.cucmviews import cucm_view
from xsp.live.model import (CertificateView, ChannelSetView, ChannelView, CucmView, HubView,
                            ListenerView, NodeView, SubscriptionView, SuiteView)

if TYPE_CHECKING:
    from xsp.cti.hub import EventHub
    from xsp.node.host import Listener, NodeHost

log = logging.getLogger("xsp.live")

# What each listener speaks: a CTIServer's port the BroadWorks CTI interface protocol,
# the node's Xsi port (``emu xsi``) HTTP Xsi-Events and the emulator's WebSocket mapping.
CTI_KIND = "CTI interface (BroadWorks CTI interface protocol, XML messages)"
XSI_KIND = "Xsi interface (HTTP Xsi-Events, and the emulator's WebSocket mapping)"


class Sources(Protocol):
    """What the feed reads when something changed."""

    def nodes(self) -> list[NodeView]: ...

    def hub(self, limit: int) -> HubView: ...

    def cucm(self) -> list[CucmView]: ...


@functools.lru_cache(maxsize=4096)
def certificate_view(pem: str) -> CertificateView | None:
    """Subject, issuer, expiry and fingerprint of a stored certificate; never its PEM."""
    import xsp_trust as trust
    from cryptography import x509
    try:
        info = trust.describe(x509.load_pem_x509_certificate(pem.encode()))
    except ValueError:
        return None
    return CertificateView(info.subject, info.issuer,
                           info.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"), info.sha256_colons)


def listener_view(listener: "Listener") -> ListenerView:
    server = listener.server
    plan = listener.suite_plan
    suites = ([SuiteView(s.iana_name, s.openssl_name, s.negotiable, list(s.protocols), s.reason)
               for s in plan.suites] if plan is not None else [])
    certificate = (certificate_view(server.certificate.cert_pem)
                   if server.secure and server.certificate is not None else None)
    return ListenerView(
        interface=listener.label, kind=XSI_KIND if listener.port is not None else CTI_KIND, address=listener.host, port=listener.bound_port,
        listening=listener.site is not None, secure=server.secure,
        client_certificate_required=server.secure and server.client_auth_req,
        protocols=list(plan.protocols) if plan is not None else [],
        not_offered=([{"name": d.name, "reason": d.reason or "not offered"}
                      for d in plan.protocol_decisions if d.allowed and not d.offered]
                     if plan is not None else []),
        suites=suites, refusing_every_handshake=plan.why_refusing if plan is not None else None,
        problem=listener.problem, note=listener.note,
        refused_since_restart=listener.refusals, certificate=certificate)


def node_view(node: Node, host: "NodeHost") -> NodeView:
    runtime = host.nodes.get(node.name)
    if node.kind == "AS":
        assert node.as_ is not None
        return NodeView(node.name, node.kind, True, list(node.pending_restart),
                        client_identities=list(node.as_.client_identities))
    if node.xsp is None:  # a kind with its own section (a CUCM node: ``cucm``)
        return NodeView(node.name, node.kind, node.name in host.cucm, list(node.pending_restart))
    anchors = [{"alias": t.alias, "certificate": certificate_view(t.cert_pem)}
               for t in node.xsp.trusts]
    listeners = ([listener_view(l) for l in runtime.all()]
                 if runtime is not None else [])
    return NodeView(node.name, node.kind, runtime is not None, list(node.pending_restart),
                    listeners=listeners, trust_anchors=anchors,
                    allow_client_app=node.xsp.allow_client_app)


def hub_view(hub: "EventHub", limit: int) -> HubView:
    """Channel sets (the first ``limit``), expiries as epoch seconds, unacknowledged counts."""
    to_epoch = time.time() - hub.clock()
    waiting = Counter(d.subscription_id for d in hub.awaiting_acknowledgement())
    sets = hub.channel_sets()
    shown = []
    for channel_set in sets[:limit]:
        channels = [ChannelView(c.id, c.transport, c.priority, c.weight,
                                round(to_epoch + c.expires_at, 1))
                    for c in channel_set.open_channels()]
        subscriptions = [SubscriptionView(s.id, s.target.label, s.package.name, s.application_id,
                                          round(to_epoch + s.expires_at, 1), waiting[s.id])
                         for s in channel_set.subscriptions.values()]
        shown.append(ChannelSetView(channel_set.owner, channel_set.id, channels, subscriptions,
                                    len(channel_set.backlog)))
    return HubView(shown, len(shown), len(sets), hub.stats.as_dict())


class NodeHostSources:
    """``Sources`` over a running ``NodeHost`` and its state."""

    def __init__(self, host: "NodeHost") -> None:
        self.host = host
        self._last: Deployment | None = None

    def _deployment(self) -> Deployment | None:
        # A hand-edited config.yaml that no longer loads must not blank the page: show
        # the last good one (the node itself keeps running on it too).
        try:
            self._last = self.host.store.load()
        except (ConfigFileError, OSError) as exc:
            log.warning("live page: %s", exc)
        return self._last

    def nodes(self) -> list[NodeView]:
        deployment = self._deployment()
        if deployment is None:
            return []
        return [node_view(node, self.host) for node in deployment.nodes]

    def hub(self, limit: int) -> HubView:
        return hub_view(self.host.hub, limit)

    def cucm(self) -> list[CucmView]:
        deployment = self._last  # read by ``nodes`` just before, in the same refresh
        if deployment is None:
            return []
        return [cucm_view(node, self.host.store, self.host.cucm.get(node.name))
                for node in deployment.nodes if node.kind == "CUCM"]
