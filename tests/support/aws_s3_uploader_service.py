"""TEST-ONLY: the uploader service of the aws_s3 stand-in, inside the test process.

The program PostgreSQL runs for `COPY ... TO PROGRAM` (aws_s3_relay.py) runs as the server's OS
user, which may not be able to read the checkout, its venv or boto3. So the work that needs them
happens here, in the process that installed the stand-in: a thread per connection reads the relay's
request and stream, splits and uploads it (aws_s3_uploader.export) and answers with the counts.

The service listens on a Unix socket inside the server's work directory (by default its data
directory, mode 0700): only the server's OS user, and root, can reach it, with no secret to pass
around. One service per socket path per process; all are closed when the process exits.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import socketserver
import threading
from pathlib import Path

from tests.support.aws_s3_uploader import CHUNK_BYTES, ExportRequest, export, s3_uploader

# sockaddr_un holds 108 bytes including the terminating NUL.
MAX_SOCKET_PATH = 107


class _RelayHandler(socketserver.StreamRequestHandler):
    """One relay connection: a JSON line, then (for an export) the COPY stream; one answer line."""

    def handle(self) -> None:
        try:
            answer = self._serve()
        except Exception as exc:  # reported to the SQL caller through the relay's stats file
            # Read the rest, so the relay can finish sending and still hear this answer.
            while self.rfile.read(CHUNK_BYTES):
                pass
            answer = "error " + " ".join(f"{type(exc).__name__}: {exc}".split())
        self.wfile.write(answer.encode() + b"\n")

    def _serve(self) -> str:
        message = json.loads(self.rfile.readline())
        if message.get("ping"):
            return "ok"
        request = ExportRequest.from_json(message["request"])
        header = base64.b64decode(message["header"])
        parts = export(request, header, self.rfile, s3_uploader(request))
        records = -1 if request.copy_format == "binary" else parts.records
        return f"ok {parts.files} {parts.total_bytes} {records}"


class _UploaderServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True  # an export in flight never holds up the end of the test session


_SERVERS: dict[str, _UploaderServer] = {}
_LOCK = threading.Lock()


def socket_path(work_dir: str) -> str:
    """Where this process's service listens for a server whose work directory is `work_dir`."""
    path = f"{work_dir.rstrip('/')}/aws_s3_fake-uploader-{os.getpid()}.sock"
    if len(path.encode()) > MAX_SOCKET_PATH:
        raise ValueError(f"socket path {path} is longer than {MAX_SOCKET_PATH} bytes; use a shorter work_dir")
    return path


def ensure_service(work_dir: str) -> str:
    """Start (once) the service for `work_dir` and return its socket path.

    The socket file is made writable for everyone because connecting needs write permission on it
    and the server's OS user is not this process's; the directory around it is what keeps others out.
    """
    path = socket_path(work_dir)
    with _LOCK:
        if path in _SERVERS and Path(path).exists():
            return path
        stale = _SERVERS.pop(path, None)
        if stale is not None:
            _close(path, stale)
        with contextlib.suppress(FileNotFoundError):
            Path(path).unlink()
        server = _UploaderServer(path, _RelayHandler)
        Path(path).chmod(0o666)
        threading.Thread(target=server.serve_forever, name=f"aws_s3 uploader {path}", daemon=True).start()
        _SERVERS[path] = server
    return path


def _close(path: str, server: _UploaderServer) -> None:
    server.shutdown()
    server.server_close()
    with contextlib.suppress(OSError):
        Path(path).unlink()


def stop_all() -> None:
    """Stop every service of this process and remove its socket (atexit)."""
    with _LOCK:
        servers = list(_SERVERS.items())
        _SERVERS.clear()
    for path, server in servers:
        _close(path, server)


atexit.register(stop_all)
