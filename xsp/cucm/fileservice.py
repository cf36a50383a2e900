"""The node's TFTP service: ``CTLFile.tlv`` and ``ITLFile.tlv`` over TFTP and over HTTP on 6970.

TFTP is tftpy's server (an established implementation of RFC 1350 with the option
extensions), in a thread of its own since it runs a blocking select loop. It is read
only: a write request is refused with an access violation. Files are served from a
snapshot taken when the service starts, as the real TFTP service serves what it built
at start: a CTL updated later is served after the service restarts.
"""
from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from dataclasses import dataclass
from typing import IO

import tftpy
from aiohttp import web

log = logging.getLogger("xsp.cucm")
# tftpy narrates every packet at INFO; the service logs its own one line per transfer.
logging.getLogger("tftpy").setLevel(logging.WARNING)

# tftpy's select timeout: how long a stop may wait, and the retransmission timer.
_TFTP_TIMEOUT = 1.0
# Transfers at once; each holds a socket and a file. Beyond, a request is answered
# "file not found" and logged (tftpy itself sets no limit).
MAX_TFTP_SESSIONS = 64


@dataclass(frozen=True)
class ServedFiles:
    files: dict[str, bytes]

    def get(self, name: str) -> bytes | None:
        # Clients ask for "CTLFile.tlv" or "/CTLFile.tlv"; names are case-sensitive on CUCM.
        return self.files.get(name.lstrip("/"))


class TftpService:
    def __init__(self, files: ServedFiles, host: str, port: int, label: str) -> None:
        self.files = files
        self.host = host
        self.port = port
        self.label = label
        self._root = tempfile.mkdtemp(prefix="xsp-tftp-")  # empty: every file is dynamic
        self._server = tftpy.TftpServer(self._root, dyn_file_func=self._open,
                                        upload_open=self._refuse_upload)
        self._thread: threading.Thread | None = None
        self._error: OSError | None = None

    def _open(self, name: str, raddress: str = "", rport: int = 0) -> IO[bytes] | None:
        if len(self._server.sessions) > MAX_TFTP_SESSIONS:
            log.warning("%s TFTP: %s:%s asked for %s: refused, %d transfers already running",
                        self.label, raddress, rport, name, MAX_TFTP_SESSIONS)
            return None
        data = self.files.get(name)
        if data is None:
            log.info("%s TFTP: %s:%s asked for %s: not found", self.label, raddress, rport, name)
            return None
        log.info("%s TFTP: %s:%s downloads %s (%d bytes)", self.label, raddress, rport, name, len(data))
        # A real file, not BytesIO: tftpy's sessions flock what they serve.
        served = tempfile.TemporaryFile()
        served.write(data)
        served.seek(0)
        return served

    def _refuse_upload(self, path: str, context: object) -> None:
        log.info("%s TFTP: write request for %s refused: the TFTP service is read-only",
                 self.label, path.rsplit("/", 1)[-1])
        return None

    def _run(self) -> None:
        try:
            self._server.listen(self.host, self.port, timeout=_TFTP_TIMEOUT)
        except OSError as exc:
            self._error = exc
            self._server.is_running.set()  # wake start(), which reports the error

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"xsp-tftp-{self.label}", daemon=True)
        self._thread.start()
        self._server.is_running.wait(10)
        if self._error is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            raise self._error
        self.port = self._server.listenport

    def stop(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._server.stop(now=True)
            self._thread.join(timeout=_TFTP_TIMEOUT * 3)
        shutil.rmtree(self._root, ignore_errors=True)


def http_app(files: ServedFiles, label: str) -> web.Application:
    """The same files over HTTP, as CUCM's TFTP service offers them on TCP 6970."""
    async def download(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        data = files.get(name)
        if data is None:
            raise web.HTTPNotFound(text=f"{name}: no such file\n")
        log.info("%s HTTP 6970: %s downloads %s", label, request.remote, name)
        return web.Response(body=data, content_type="application/octet-stream")

    app = web.Application(client_max_size=1024)
    app.router.add_get("/{name}", download)
    return app
