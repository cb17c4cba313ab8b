"""The socket under the Aurora connection: connect and TLS bounded by the connect timeout only.

pg8000 keeps its `timeout` on the socket for the life of the connection, so a statement that waits
(on a lock, on I/O, or on `aws_s3.query_export_to_s3`, which answers only when the whole window is
in S3) would fail as a "connection problem" after DB_CONNECT_TIMEOUT_SECONDS. Here the adapter opens
the socket itself: the timeout covers TCP connect, the TLS handshake and the startup/authentication
exchange, and is then lifted. Statements are bounded by the server's `statement_timeout` instead, and
a dead peer is noticed by TCP keepalives.

TLS follows the PostgreSQL protocol (SSLRequest, then the handshake; "Message Flow: SSL Session
Encryption" in the PostgreSQL docs), verifying the chain against the configured CA bundle (the RDS
bundle for the region in production; Lambda's trust store does not hold the RDS CAs) and the host
name against DB_HOST (the cluster's writer endpoint, which is on the RDS server certificate).
"""

from __future__ import annotations

import socket
import ssl
import struct

from aurora_sync.errors import ConfigError, TerminalError, TlsVerificationError, TransientError

# Int32 length 8, Int32 80877103: the SSLRequest message.
SSL_REQUEST = struct.pack("!ii", 8, 80877103)
# A peer that vanished (failover, network partition) is found within about KEEPIDLE + INTVL * CNT
# seconds even while a statement runs and nothing is expected from the server.
KEEPALIVE_IDLE_S = 30
KEEPALIVE_INTERVAL_S = 10
KEEPALIVE_COUNT = 6


def tls_context(pem: str, where: str) -> ssl.SSLContext:
    """A verifying client context trusting exactly the CAs in `pem` (never the system store, so a
    publicly trusted certificate for some other host cannot stand in for the database)."""
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise ConfigError(where, "(value)", "holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # check_hostname and CERT_REQUIRED by default
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_verify_locations(cadata=pem)
    except (ssl.SSLError, ValueError) as exc:
        raise ConfigError(where, "(value)", f"is not a readable PEM CA bundle: {exc}") from exc
    return context


def _keepalive(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE_S),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL_S),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
    ):
        if hasattr(socket, option):  # Linux (Lambda) has all three
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


def open_socket(host: str, port: int, timeout_s: float, tls: ssl.SSLContext | None) -> socket.socket:
    """A connected (and, with `tls`, verified) socket whose timeout is still `timeout_s`: the caller
    runs the startup exchange under it, then calls `lift_timeout`."""
    where = f"{host}:{port}"
    try:
        sock = socket.create_connection((host, port), timeout=timeout_s)
    except OSError as exc:
        raise TransientError(f"connect to Aurora {where} failed: {exc}") from exc
    try:
        _keepalive(sock)
        if tls is None:
            return sock
        sock.sendall(SSL_REQUEST)
        answer = sock.recv(1)
        if answer != b"S":
            raise TerminalError(
                f"Aurora {where} refused TLS (answered {answer!r} to SSLRequest); DB_SSL=true needs a "
                "server with ssl on"
            )
        return tls.wrap_socket(sock, server_hostname=host)
    except ssl.SSLCertVerificationError as exc:
        sock.close()
        raise TlsVerificationError(
            f"TLS to Aurora {where}: the server certificate did not verify ({exc.verify_message}); "
            "check that DB_SSL_CA_BUNDLE_PARAMETER holds the RDS CA bundle of the cluster's region and "
            "that DB_HOST is the cluster (writer) endpoint named on the certificate, not an IP address "
            "or a CNAME"
        ) from exc
    except ssl.SSLError as exc:
        sock.close()
        raise TlsVerificationError(f"TLS handshake with Aurora {where} failed: {exc}") from exc
    except OSError as exc:
        sock.close()
        raise TransientError(f"connect to Aurora {where} failed during TLS negotiation: {exc}") from exc
    except BaseException:
        sock.close()
        raise


def lift_timeout(sock: socket.socket) -> None:
    """After startup: no client-side read timeout. A statement may legitimately send nothing for
    minutes; statement_timeout ends it on the server and keepalives detect a dead peer."""
    sock.settimeout(None)
