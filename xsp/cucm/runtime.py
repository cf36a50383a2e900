"""A running CUCM node: its TFTP service (TFTP and HTTP 6970), CAPF and CTIManager, started in order.

Start: the ITL is built and the files snapshotted, then TFTP, HTTP, CAPF and CTIManager (2748, 2749) listen;
stop goes the other way. Each service that cannot listen says why in its status line
and the others still run, as one stopped service on CUCM does not stop the rest.
"""
from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from xsp.config.model import Limits
from xsp.config.store import Store
from xsp.cucm.authority import StoreAuthority
from xsp.cucm.capfservice import CapfService, server_context
from xsp.cucm.ctimanager import CtiManager
from xsp.cucm.ctiservice import CtiListener
from xsp.cucm.ctiservice import server_context as cti_context
from xsp.cucm.ctitrace import SdlTrace
from xsp.cucm.fileservice import ServedFiles, TftpService, http_app
from xsp.cucm.platform import CTL_NAME, ITL_NAME, ctl_path, sign_file
from xsp.listener.gate import ConnectionGate
from xsp.listener.site import TLSSite
from xsp.live.observer import NULL_OBSERVER, Observer
from xsp.tls.credentials import ServerCredentials

log = logging.getLogger("xsp.cucm")


@dataclass
class CucmRuntime:
    store: Store
    name: str
    files: ServedFiles | None = None
    tftp: TftpService | None = None
    http: web.AppRunner | None = None
    http_port: int = 0
    capf: CapfService | None = None
    cti: CtiListener | None = None
    cti_tls: CtiListener | None = None
    manager: CtiManager | None = None
    problems: dict[str, str] = field(default_factory=dict)
    tls_min_version: str = ""
    tftp_host: str = ""
    # The live page's observer as it is now (the node's ``watch`` may change it).
    observe: Callable[[], Observer] = lambda: NULL_OBSERVER
    # HTTP 6970's connections count against the node's limit (``emu limit
    # connections``): they share the process's descriptors with every other listener.
    gate: ConnectionGate = field(default_factory=lambda: ConnectionGate(
        Limits().connections, Limits().connections_per_client))

    async def start(self) -> None:
        settings = self.store.load().node(self.name).cucm_settings
        host, ports = settings.ports.address, settings.ports
        self.tftp_host = host
        self.tls_min_version = settings.tls_min_version
        files = {ITL_NAME: sign_file(self.store, settings, ITL_NAME, int(time.time()))}
        ctl = ctl_path(self.store, self.name)
        if ctl.exists():
            files[CTL_NAME] = ctl.read_bytes()
        self.files = ServedFiles(files)
        tftp = TftpService(self.files, host, ports.tftp, self.name)
        try:
            await asyncio.to_thread(tftp.start)
            self.tftp = tftp
        except OSError as exc:
            self._problem("TFTP", f"cannot listen on udp {host}:{ports.tftp}: {exc.strerror}")
        runner = web.AppRunner(http_app(self.files, self.name), handle_signals=False, access_log=None)
        await runner.setup()
        site = TLSSite(runner, host, ports.http, None, label=f"{self.name} HTTP 6970",
                       gate=self.gate)
        try:
            await site.start()
            self.http = runner
            self.http_port = int(runner.addresses[0][1])
        except OSError as exc:
            await runner.cleanup()
            self._problem("HTTP", f"cannot listen on tcp {host}:{ports.http}: {exc.strerror}")
        capf_cert = settings.certificate("CAPF")
        try:
            context = server_context(settings.tls_min_version, ServerCredentials.from_pem(
                capf_cert.cert_pem, self.store.resolve(capf_cert.key_file)))
            capf = CapfService(StoreAuthority(self.store, self.name), context, host, ports.capf, self.name)
            await capf.start()
            self.capf = capf
        except OSError as exc:
            self._problem("CAPF", f"cannot listen on tcp {host}:{ports.capf}: {exc.strerror}")
        except (ValueError, ssl.SSLError) as exc:  # an unusable certificate must not stop TFTP
            self._problem("CAPF", f"not listening: {exc}")
        await self._start_cti()

    async def _start_cti(self) -> None:
        settings = self.store.load().node(self.name).cucm_settings
        host, ports = settings.ports.address, settings.ports
        self.manager = manager = CtiManager(self.store, self.name, SdlTrace(self.name))
        manager.observe = self.observe
        plain = CtiListener(manager, host, ports.cti, self.name, None)
        try:
            await plain.start()
            self.cti = plain
        except OSError as exc:
            self._problem("CTI", f"cannot listen on tcp {host}:{ports.cti}: {exc.strerror}")
        callmanager = settings.certificate("CallManager")
        try:
            credentials = ServerCredentials.from_pem(callmanager.cert_pem,
                                                     self.store.resolve(callmanager.key_file))
            context = cti_context(settings.tls_min_version, credentials,
                                  settings.certificate("CAPF").cert_pem.encode())
            secure = CtiListener(manager, host, ports.cti_tls, self.name, context)
            await secure.start()
            self.cti_tls = secure
        except OSError as exc:
            self._problem("CTI TLS", f"cannot listen on tcp {host}:{ports.cti_tls}: {exc.strerror}")
        except (ValueError, ssl.SSLError) as exc:
            self._problem("CTI TLS", f"not listening: {exc}")
        manager.ports = (plain.port, self.cti_tls.port if self.cti_tls else ports.cti_tls)

    def _problem(self, service: str, text: str) -> None:
        self.problems[service] = text
        log.error("%s %s: %s", self.name, service, text)

    async def stop(self) -> None:
        for listener in (self.cti_tls, self.cti):
            if listener is not None:
                await listener.stop()
        self.cti = self.cti_tls = None
        if self.capf is not None:
            await self.capf.stop()
            self.capf = None
        if self.http is not None:
            await self.http.cleanup()
            self.http = None
        if self.tftp is not None:
            await asyncio.to_thread(self.tftp.stop)
            self.tftp = None

    def status(self) -> list[str]:
        files = ", ".join(sorted(self.files.files)) if self.files else "none"
        lines = ["CUCM services:"]
        lines.append(f"  Cisco TFTP      udp {self.tftp.host}:{self.tftp.port}; serving {files}"
                     if self.tftp else f"  Cisco TFTP      {self.problems.get('TFTP', 'not running')}")
        lines.append(f"  TFTP over HTTP  tcp {self.tftp_host}:{self.http_port}" if self.http else
                     f"  TFTP over HTTP  {self.problems.get('HTTP', 'not running')}")
        lines.append(f"  Cisco CAPF      tcp {self.capf.host}:{self.capf.port}; TLS {self.tls_min_version} "
                     "and up, CUCM 15 suites" if self.capf else
                     f"  Cisco CAPF      {self.problems.get('CAPF', 'not running')}")
        lines.append(f"  CTIManager      tcp {self.cti.host}:{self.cti.port} (CTIQBE)" if self.cti else
                     f"  CTIManager      {self.problems.get('CTI', 'not running')}")
        lines.append(f"  CTIManager TLS  tcp {self.cti_tls.host}:{self.cti_tls.port}; mutual TLS "
                     f"{self.tls_min_version} and up, CUCM 15 suites, clients of the CAPF CA"
                     if self.cti_tls else f"  CTIManager TLS  {self.problems.get('CTI TLS', 'not running')}")
        return lines
