"""The local stack: real PostgreSQL, moto, OpenBao and fakesnow servers on 127.0.0.1.

The AWS side is the embedded moto server unless LOCALSTACK_HOST names an existing LocalStack:
`aws_side()` decides, for the tests, the demo and the bench alike.

Tests and the demo share these classes so both exercise the same servers the same way (DESIGN.md §7).
Every server gets a free port, its own temp dir under /tmp and a log file there; a start failure raises
with the log tail so CI output says *why* a server did not come up. Stopping goes by PID: the whole
process group gets a graceful signal, then SIGKILL, and the temp dir is removed. Each started server is
also registered with `atexit`, and servers orphaned by a killed run (its owner PID is gone) are reaped by
the next run, so the machine never fills up with stray servers.

Usage::

    with PostgresServer() as pg:
        pg.connect().run("SELECT 1")
"""

from __future__ import annotations

import abc
import atexit
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar

from tests.support.local_ca import LocalCA

TEMP_PREFIX = "aurora-sync-stack-"
"""Prefix of every server's temp dir under /tmp; the orphan reaper only looks at these."""

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
_PORT_ATTEMPTS = 3
_LOG_TAIL_LINES = 40
_ORPHAN_GRACE_S = 600.0
_ADDRESS_IN_USE = re.compile(r"address already in use", re.IGNORECASE)
_REGION = "us-east-1"
_DUMMY_KEY = "testing"

# Variables that could point a server (or a program a server runs) at something real; servers get
# dummy AWS settings instead.
_SCRUBBED_ENV_PREFIXES = ("AWS_", "BAO_", "VAULT_", "SNOWFLAKE_", "PG", "MOTO_")


class ServiceStartError(RuntimeError):
    """A local server did not come up; the message carries the tail of its log."""


class _PortInUseError(ServiceStartError):
    """Another process took the port between choosing it and binding it; worth one more try."""


# --------------------------------------------------------------------------------------------------
# Small process and port helpers
# --------------------------------------------------------------------------------------------------


def free_port() -> int:
    """Return a TCP port that was free a moment ago (the OS picks it for a bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_port_pair() -> int:
    """Return a free port P whose neighbour P+1 is free too (OpenBao dev mode also binds P+1)."""
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise ServiceStartError("no pair of adjacent free ports found on 127.0.0.1")


def pid_alive(pid: int) -> bool:
    """True while `pid` is a running process; a zombie counts as gone because it holds no resources."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state letter follows the parenthesised command name, which may itself contain spaces.
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _wait_gone(pid: int, timeout: float) -> bool:
    """Poll until `pid` is gone (works for processes that are not our children, like the postmaster)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return not pid_alive(pid)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the process group led by `pid`, or the process alone if it leads no group."""
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def terminate_group(
    pid: int,
    graceful: signal.Signals = signal.SIGTERM,
    proc: subprocess.Popen[bytes] | None = None,
    timeout: float = STOP_TIMEOUT_S,
) -> None:
    """Stop the process group led by `pid`: `graceful`, wait up to `timeout`, then SIGKILL.

    When `proc` is our own child it is waited for (reaped) as well, so no zombie is left behind.
    """
    _signal_group(pid, graceful)
    gone = _wait_child(proc, timeout) if proc is not None else _wait_gone(pid, timeout)
    if not gone:
        _signal_group(pid, signal.SIGKILL)
        if proc is not None:
            _wait_child(proc, timeout)
        else:
            _wait_gone(pid, timeout)


def _wait_child(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return True


def _log_tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def _http_ok(
    url: str, method: str = "GET", timeout: float = 2.0, headers: Mapping[str, str] | None = None
) -> bool:
    """True when `url` answers 2xx. Proxies are bypassed: these servers only live on loopback."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, method=method, headers=dict(headers or {}))  # noqa: S310 - loopback
    try:
        with opener.open(request, timeout=timeout) as response:
            status: int = response.status
            return 200 <= status < 300
    except (urllib.error.URLError, OSError):
        return False


def _http_post_json(url: str, body: Mapping[str, Any] | None = None) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    data = json.dumps(body).encode() if body is not None else b""
    request = urllib.request.Request(  # noqa: S310 - loopback http by design
        url, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    with opener.open(request, timeout=10) as response:
        response.read()


def _tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _bypass_proxy_for_loopback() -> None:
    """Make sure no HTTP(S)_PROXY setting sends clients (boto3, hvac, snowflake) for loopback elsewhere."""
    for name in ("NO_PROXY", "no_proxy"):
        hosts = [h for h in os.environ.get(name, "").split(",") if h]
        for host in ("127.0.0.1", "localhost"):
            if host not in hosts:
                hosts.append(host)
        os.environ[name] = ",".join(hosts)


def _server_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a server: ours minus anything that could reach a real account, plus dummies."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_ENV_PREFIXES)}
    env.update(
        AWS_ACCESS_KEY_ID=_DUMMY_KEY,
        AWS_SECRET_ACCESS_KEY=_DUMMY_KEY,
        AWS_DEFAULT_REGION=_REGION,
        AWS_REGION=_REGION,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra or {})
    return env


def venv_bin(name: str) -> Path:
    """A console script installed next to the running interpreter, so servers match our pins."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise ServiceStartError(f"{path} not found: run `make venv` (scripts/bootstrap.sh) first")
    return path


# --------------------------------------------------------------------------------------------------
# Bookkeeping: atexit and orphans of killed runs
# --------------------------------------------------------------------------------------------------

_RUNNING: set[LocalService] = set()
_REGISTRY_LOCK = threading.Lock()
_reaped = False


def stop_all() -> None:
    """Stop every server this process started; registered with atexit so interrupted runs clean up."""
    with _REGISTRY_LOCK:
        services = list(_RUNNING)
    for service in services:
        with contextlib.suppress(Exception):
            service.stop()


atexit.register(stop_all)


def _process_cwd_inside(pid: int, directory: Path) -> bool:
    """Guards the reaper against PID reuse: only a process whose cwd is inside `directory` is ours."""
    try:
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return False
    return cwd == directory or directory in cwd.parents


def reap_orphans(tmp_root: Path | None = None) -> None:
    """Stop servers and remove temp dirs left by earlier runs that were killed (owner PID gone)."""
    for directory in (tmp_root or Path(tempfile.gettempdir())).glob(f"{TEMP_PREFIX}*"):
        owner_file = directory / "owner.pid"
        try:
            owner = int(owner_file.read_text())
        except (OSError, ValueError):
            # Being set up right now by another run, or a leftover without an owner: old ones only.
            with contextlib.suppress(OSError):
                if time.time() - directory.stat().st_mtime > _ORPHAN_GRACE_S:
                    shutil.rmtree(directory, ignore_errors=True)
            continue
        if pid_alive(owner):
            continue
        with contextlib.suppress(OSError, ValueError):
            server = int((directory / "server.pid").read_text())
            if pid_alive(server) and _process_cwd_inside(server, directory.resolve()):
                _signal_group(server, signal.SIGKILL)
                _wait_gone(server, STOP_TIMEOUT_S)
        shutil.rmtree(directory, ignore_errors=True)


def _reap_once() -> None:
    global _reaped  # noqa: PLW0603 - one reap per process is enough
    if not _reaped:
        _reaped = True
        reap_orphans()


# --------------------------------------------------------------------------------------------------
# The common lifecycle
# --------------------------------------------------------------------------------------------------


class LocalService(abc.ABC):
    """Lifecycle shared by all servers: temp dir, log file, start with retries, stop by PID.

    Subclasses implement `_launch()` (start the process, set `pid`, and `_proc` when it is our child)
    and `_ready()` (one cheap readiness probe). The graceful stop signal is `stop_signal`.
    """

    kind: ClassVar[str] = "service"
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM

    def __init__(self, start_timeout: float = START_TIMEOUT_S) -> None:
        self.start_timeout = start_timeout
        self.tmpdir: Path | None = None
        self.pid: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._probe_error: Exception | None = None

    # -- public API --------------------------------------------------------------------------------

    @property
    def log_path(self) -> Path:
        """Where the server writes its log (inside its temp dir, so it goes away with stop())."""
        return self._dir / f"{self.kind}.log"

    @property
    def running(self) -> bool:
        return self.pid is not None and pid_alive(self.pid)

    def start(self) -> Self:
        """Start the server and wait until it answers; raise ServiceStartError with the log tail."""
        if self.pid is not None:
            return self
        _reap_once()
        _bypass_proxy_for_loopback()
        self.tmpdir = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{self.kind}-", dir=tempfile.gettempdir()))
        (self.tmpdir / "owner.pid").write_text(str(os.getpid()))
        with _REGISTRY_LOCK:
            _RUNNING.add(self)
        try:
            for attempt in range(1, _PORT_ATTEMPTS + 1):
                try:
                    self._start_once()
                    break
                except _PortInUseError:
                    if attempt == _PORT_ATTEMPTS:
                        raise
                    self._kill_process()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Terminate the server's process group by PID and remove its temp dir; safe to call twice."""
        self._kill_process()
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None
        with _REGISTRY_LOCK:
            _RUNNING.discard(self)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- for subclasses ----------------------------------------------------------------------------

    @property
    def _dir(self) -> Path:
        if self.tmpdir is None:
            raise RuntimeError(f"{self.kind} server is not started")
        return self.tmpdir

    @abc.abstractmethod
    def _launch(self) -> None: ...

    @abc.abstractmethod
    def _ready(self) -> bool: ...

    def _spawn(self, argv: list[str], env: Mapping[str, str] | None = None) -> None:
        """Start `argv` as the leader of a new session, logging to `log_path`, cwd in the temp dir.

        A new session means one killpg() reaches the server and everything it forked; the cwd lets the
        orphan reaper recognise the process as ours even after its PID could have been reused.
        """
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self._dir,
                env=_server_env(env),
                start_new_session=True,
            )
        self._set_pid(self._proc.pid)

    def _set_pid(self, pid: int) -> None:
        self.pid = pid
        (self._dir / "server.pid").write_text(str(pid))

    def _fail(self, message: str) -> ServiceStartError:
        tail = _log_tail(self.log_path)
        error = _PortInUseError if _ADDRESS_IN_USE.search(tail) else ServiceStartError
        probe = f" (last readiness probe: {self._probe_error!r})" if self._probe_error else ""
        return error(f"{self.kind} server {message}{probe}; log {self.log_path} ends with:\n{tail}")

    def _start_once(self) -> None:
        self._launch()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc is not None:
                if self._proc.poll() is not None:
                    raise self._fail(f"exited with code {self._proc.returncode} during start")
            elif self.pid is not None and not pid_alive(self.pid):
                raise self._fail("died during start")
            try:
                if self._ready():
                    return
            except Exception as exc:  # a half-started server may fail a probe in any way; retry
                self._probe_error = exc
            time.sleep(0.05)
        raise self._fail(f"not ready after {self.start_timeout:.0f}s")

    def _kill_process(self) -> None:
        if self.pid is not None:
            terminate_group(self.pid, self.stop_signal, self._proc)
        self.pid = None
        self._proc = None


# --------------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------------


def postgres_bin_dir() -> Path:
    """The newest Debian PostgreSQL server install (/usr/lib/postgresql/<major>/bin)."""
    candidates = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")]
    if not candidates:
        raise ServiceStartError("no PostgreSQL server binaries under /usr/lib/postgresql: run make venv")
    return max(candidates, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else -1)


class PostgresServer(LocalService):
    """A throwaway PostgreSQL cluster: password (SCRAM) auth on TCP, durability off for speed.

    Like an Aurora cluster with `rds.force_ssl = 1`, it accepts TCP connections only over TLS, with a
    certificate from a CA made for this server (`ca_pem`) that names only `tls_host` (localhost):
    clients that verify connect by that name, as the Lambdas connect to the writer endpoint.

    PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` OS user and
    initdb/pg_ctl run through `runuser`; the temp dir (root's, under /tmp) is made traversable so that
    user reaches the data dir inside it. Nothing the server runs comes from the checkout.
    """

    kind = "postgres"
    # SIGTERM is PostgreSQL's "smart" shutdown, which waits for every client to disconnect;
    # SIGINT is "fast": it disconnects clients and still shuts down cleanly.
    stop_signal = signal.SIGINT

    def __init__(self, start_timeout: float = START_TIMEOUT_S) -> None:
        super().__init__(start_timeout)
        self.bin_dir = postgres_bin_dir()
        self.host = "127.0.0.1"
        self.port = 0
        self.user = "postgres"
        self.password = secrets.token_urlsafe(18)
        self.dbname = "postgres"
        self.tls_host = "localhost"
        self.ca = LocalCA()

    @property
    def data_dir(self) -> Path:
        return self._dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self._dir / "sock"

    @property
    def ca_pem(self) -> str:
        """The CA bundle that verifies this server (the RDS bundle's role in production)."""
        return self.ca.pem

    def connect(
        self,
        dbname: str | None = None,
        user: str | None = None,
        password: str | None = None,
        timeout: float | None = 30,
    ) -> Any:
        """A pg8000.native.Connection over TCP with password auth (TLS, unverified: test plumbing).
        `timeout`: the socket's, per read; a bench filling tens of millions of rows passes more."""
        import pg8000.native

        return pg8000.native.Connection(
            user=user or self.user,
            password=self.password if password is None else password,
            host=self.host,
            port=self.port,
            database=dbname or self.dbname,
            timeout=timeout,
        )

    def create_database(self, name: str) -> str:
        """Create database `name` (tests use one per test module to stay independent); return it."""
        import pg8000.native

        con = self.connect()
        try:
            con.run(f"CREATE DATABASE {pg8000.native.identifier(name)}")
        finally:
            con.close()
        return name

    def _as_cluster_owner(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv

    def _run(self, argv: list[str]) -> None:
        with self.log_path.open("ab") as log:
            result = subprocess.run(
                self._as_cluster_owner(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self._dir,
                env=_server_env({"LC_ALL": "C", "LANG": "C"}),
                check=False,
            )
        if result.returncode != 0:
            raise self._fail(f"{Path(argv[0]).name} exited with code {result.returncode}")

    def _init_cluster(self) -> None:
        self._dir.chmod(0o755)
        self.socket_dir.mkdir()
        pwfile = self._dir / "pwfile"
        pwfile.write_text(self.password + "\n")
        self.log_path.touch()
        if os.geteuid() == 0:
            for path in (self._dir, self.socket_dir, pwfile, self.log_path):
                shutil.chown(path, user="postgres", group="postgres")
        try:
            self._run([
                str(self.bin_dir / "initdb"),
                "-D", str(self.data_dir),
                "-U", self.user,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ])  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)
        self._enable_tls()

    def _enable_tls(self) -> None:
        """Server certificate and key in the data dir (PostgreSQL wants the key 0600, owned by the
        server's user) and a pg_hba.conf that takes TCP clients over TLS only."""
        issued = self.ca.issue_server([self.tls_host])
        cert, key = self.data_dir / "server.crt", self.data_dir / "server.key"
        cert.write_text(issued.cert_pem)
        key.write_text(issued.key_pem)
        key.chmod(0o600)
        (self.data_dir / "pg_hba.conf").write_text(
            "local all all trust\n"
            "hostssl all all 127.0.0.1/32 scram-sha-256\n"
            "hostssl all all ::1/128 scram-sha-256\n"
        )
        if os.geteuid() == 0:
            for path in (cert, key, self.data_dir / "pg_hba.conf"):
                shutil.chown(path, user="postgres", group="postgres")

    def _launch(self) -> None:
        if not self.data_dir.exists():
            self._init_cluster()
        self.port = free_port()
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
            " -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key"
        )
        pg_ctl = str(self.bin_dir / "pg_ctl")
        self._run([pg_ctl, "-D", str(self.data_dir), "-l", str(self.log_path), "-w", "-s",
                   "-t", str(int(self.start_timeout)), "-o", options, "start"])  # fmt: skip
        # pg_ctl has exited; the postmaster leads its own session and records its PID here.
        pid_line = (self.data_dir / "postmaster.pid").read_text().splitlines()[0]
        self._set_pid(int(pid_line))

    def _kill_process(self) -> None:
        # pg_ctl may have left a postmaster behind before we learned its PID (e.g. a start timeout).
        if self.pid is None and self.tmpdir is not None:
            with contextlib.suppress(OSError, ValueError, IndexError):
                pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
                if _process_cwd_inside(pid, self.tmpdir.resolve()):
                    self.pid = pid
        super()._kill_process()

    def _ready(self) -> bool:
        # `pg_ctl -w` already waited for "ready to accept connections"; prove the TCP side answers.
        return _tcp_open(self.host, self.port)


# --------------------------------------------------------------------------------------------------
# AWS: the embedded moto server, or an existing LocalStack (LOCALSTACK_HOST)
# --------------------------------------------------------------------------------------------------

LOCALSTACK_HOST = "LOCALSTACK_HOST"
"""Set it (`host[:port]`, port 4566 by default) and the stack uses that LocalStack as its AWS side."""


class NeedsMotoError(RuntimeError):
    """A feature only moto has was asked of an external LocalStack. tests/conftest.py reports the
    test as skipped with this message, which names the feature and LOCALSTACK_HOST."""

    def __init__(self, feature: str, localstack_host: str) -> None:
        super().__init__(
            f"{feature} needs moto, and the AWS side is the LocalStack at "
            f"{LOCALSTACK_HOST}={localstack_host}: unset {LOCALSTACK_HOST} to run it on moto"
        )


def aws_side() -> MotoServer | ExternalLocalStack:
    """The one place that decides what plays AWS for the local stack (tests, demo, bench).

    Without LOCALSTACK_HOST: a moto server of our own, started and stopped by PID. With it: the
    LocalStack already running there, which the stack neither starts nor stops. Whatever reads an
    AWS endpoint (AWS_ENDPOINT_URL for the Lambdas under test, the aws_s3 stand-in's uploads, the
    test's own clients) takes it from the object returned here.
    """
    host = os.environ.get(LOCALSTACK_HOST, "").strip()
    return ExternalLocalStack(host) if host else MotoServer()


M = TypeVar("M", bound="MotoServer")


def moto_only(feature: str, make: Callable[[], M]) -> M:
    """A moto server for `feature`, which needs moto itself (its /moto-api/, MOTO_PORT, or what
    moto_for_terraform.py adds); NeedsMotoError when LOCALSTACK_HOST names the AWS side instead."""
    host = os.environ.get(LOCALSTACK_HOST, "").strip()
    if host:
        raise NeedsMotoError(feature, host)
    return make()


def _aws_client(endpoint_url: str, region: str, service: str, **options: Any) -> Any:
    import boto3

    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=_DUMMY_KEY,
        aws_secret_access_key=_DUMMY_KEY,
        **options,
    )


class AwsApi(abc.ABC):
    """What tests and the demo use of the AWS side, whichever server plays it: one endpoint for every
    service, dummy credentials, one region."""

    region: str = _REGION

    @property
    @abc.abstractmethod
    def endpoint_url(self) -> str: ...

    @property
    def env(self) -> dict[str, str]:
        """Environment that points boto3 (in-process handlers, subprocesses) at this AWS side."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": _DUMMY_KEY,
            "AWS_SECRET_ACCESS_KEY": _DUMMY_KEY,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def client(self, service: str) -> Any:
        """A boto3 client for `service` bound to this AWS side with dummy credentials."""
        return _aws_client(self.endpoint_url, self.region, service)

    @abc.abstractmethod
    def reset(self) -> None:
        """Forget every resource (buckets, queues, state machines) so tests do not see each other's."""

    @abc.abstractmethod
    def configure(self, config: Mapping[str, Any]) -> None:
        """POST /moto-api/config, e.g. {"stepfunctions": {"execute_state_machine": True}}."""


class MotoServer(LocalService, AwsApi):
    """moto in server mode: one endpoint for every AWS service the pipeline touches."""

    kind = "moto"

    def __init__(self, start_timeout: float = START_TIMEOUT_S) -> None:
        super().__init__(start_timeout)
        self.host = "127.0.0.1"
        self.port = 0

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def reset(self) -> None:
        _http_post_json(f"{self.endpoint_url}/moto-api/reset")

    def configure(self, config: Mapping[str, Any]) -> None:
        _http_post_json(f"{self.endpoint_url}/moto-api/config", config)

    def _launch(self) -> None:
        self.port = free_port()
        self._spawn(
            [str(venv_bin("moto_server")), "-H", self.host, "-p", str(self.port)],
            {"MOTO_PORT": str(self.port)},
        )

    def _ready(self) -> bool:
        return _http_ok(f"{self.endpoint_url}/moto-api/")


class ExternalLocalStack(AwsApi):
    """The LocalStack at LOCALSTACK_HOST as the AWS side: someone else runs it, so the stack neither
    starts nor stops it, and what tests create there stays (every Pipeline uses names of its own).

    localstack-client turns LOCALSTACK_HOST into the endpoint (`get_service_endpoint`: `host[:port]`,
    port 4566 by default, https when USE_SSL is set). It lets AWS_ENDPOINT_URL win over
    LOCALSTACK_HOST, so with both set start() refuses rather than quietly use the other one. start()
    proves the endpoint answers (STS GetCallerIdentity, one attempt, short timeouts): an unreachable
    LOCALSTACK_HOST fails at once, naming it. moto's own API is not there: reset() and configure()
    raise NeedsMotoError.
    """

    probe_timeout_s = 3.0

    def __init__(self, localstack_host: str) -> None:
        self.localstack_host = localstack_host
        self.account_id: str | None = None
        self._endpoint_url: str | None = None

    @property
    def endpoint_url(self) -> str:
        if self._endpoint_url is None:
            raise RuntimeError(f"the LocalStack at {LOCALSTACK_HOST}={self.localstack_host} is not started")
        return self._endpoint_url

    def start(self) -> Self:
        """Resolve the endpoint through localstack-client and check that something AWS answers there."""
        if self._endpoint_url is None:
            endpoint = self._resolve()
            self.account_id = self._probe(endpoint)
            self._endpoint_url = endpoint
        return self

    def stop(self) -> None:
        """Nothing to stop: this LocalStack is not ours."""
        self._endpoint_url = None

    def reset(self) -> None:
        raise NeedsMotoError("resetting the AWS side (POST /moto-api/reset)", self.localstack_host)

    def configure(self, config: Mapping[str, Any]) -> None:
        feature = f"moto's configuration API (POST /moto-api/config {dict(config)})"
        raise NeedsMotoError(feature, self.localstack_host)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _problem(self, message: str) -> ServiceStartError:
        return ServiceStartError(
            f"{LOCALSTACK_HOST}={self.localstack_host}: {message}; "
            f"start LocalStack there, or unset {LOCALSTACK_HOST} to use the embedded moto server"
        )

    def _resolve(self) -> str:
        from localstack_client.config import get_service_endpoint  # type: ignore[import-untyped]

        if os.environ.get("AWS_ENDPOINT_URL", "").strip():
            raise self._problem(
                f"AWS_ENDPOINT_URL={os.environ['AWS_ENDPOINT_URL']} is set too, and localstack-client "
                f"would use it instead of {LOCALSTACK_HOST}; unset AWS_ENDPOINT_URL"
            )
        try:
            endpoint: str | None = get_service_endpoint("edge", localstack_host=self.localstack_host)
        except RuntimeError as exc:  # localstack-client: "could not parse ... into <hostname>:<port>"
            raise self._problem(f"not a host[:port] ({exc})") from exc
        if not endpoint:
            raise self._problem("localstack-client knows no edge endpoint")
        return endpoint

    def _probe(self, endpoint: str) -> str:
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError

        _bypass_proxy_for_loopback()
        timeout = self.probe_timeout_s
        config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"total_max_attempts": 1})
        sts = _aws_client(endpoint, self.region, "sts", config=config)
        try:
            account: str = sts.get_caller_identity()["Account"]
        except (BotoCoreError, ClientError) as exc:
            raise self._problem(f"no AWS endpoint answers at {endpoint} ({exc})") from exc
        return account


class TerraformMotoServer(MotoServer):
    """moto completed where `terraform apply` with the AWS provider needs more than moto 5.2 has:
    tests/support/moto_for_terraform.py says what is added and why. Only the Terraform apply test
    uses it (through moto_only: it needs these additions); everything else talks to `aws_side()`."""

    kind = "moto-terraform"

    def _launch(self) -> None:
        self.port = free_port()
        self._spawn(
            [sys.executable, str(Path(__file__).with_name("moto_for_terraform.py")), "-H", self.host,
             "-p", str(self.port)],
            {"MOTO_PORT": str(self.port)},
        )  # fmt: skip


# --------------------------------------------------------------------------------------------------
# OpenBao (Vault API)
# --------------------------------------------------------------------------------------------------


class OpenBaoServer(LocalService):
    """An OpenBao dev server (in-memory, unsealed, KV v2 at secret/) speaking the Vault HTTP API."""

    kind = "openbao"

    def __init__(self, start_timeout: float = START_TIMEOUT_S) -> None:
        super().__init__(start_timeout)
        self.host = "127.0.0.1"
        self.port = 0
        self.root_token = secrets.token_urlsafe(18)

    @property
    def addr(self) -> str:
        return f"http://{self.host}:{self.port}"

    def client(self, token: str | None = None) -> Any:
        """An hvac.Client for this server, authenticated with the root token unless told otherwise."""
        import hvac

        return hvac.Client(url=self.addr, token=token or self.root_token, timeout=10)

    def _launch(self) -> None:
        # Dev mode also binds a cluster listener on port+1, so both must be free.
        self.port = free_port_pair()
        self._spawn(
            [
                str(venv_bin("bao")),
                "server",
                "-dev",
                f"-dev-root-token-id={self.root_token}",
                f"-dev-listen-address={self.host}:{self.port}",
                "-dev-no-store-token",
            ],
            # HOME in the temp dir: no token helper file in the real home directory.
            {"HOME": str(self._dir)},
        )

    def _ready(self) -> bool:
        # The dev server mounts secret/ as KV v1 and upgrades it to v2 in the background; until that
        # is done KV v2 calls fail with "Upgrading from non-versioned to versioned data".
        return _http_ok(f"{self.addr}/v1/sys/health") and _http_ok(
            f"{self.addr}/v1/secret/config", headers={"X-Vault-Token": self.root_token}
        )


# --------------------------------------------------------------------------------------------------
# fakesnow (Snowflake)
# --------------------------------------------------------------------------------------------------


class FakeSnowServer(LocalService):
    """fakesnow's HTTP server (DuckDB inside) that the real snowflake connector talks to.

    State is shared by every connection to one server, so a test can write through the code under test
    and read back through its own connection.
    """

    kind = "fakesnow"
    probe_database = "STACK_PROBE"

    def __init__(self, start_timeout: float = START_TIMEOUT_S) -> None:
        super().__init__(start_timeout)
        self.host = "127.0.0.1"
        self.port = 0

    @property
    def connect_kwargs(self) -> dict[str, Any]:
        """Arguments for snowflake.connector.connect() (user/password/account are ignored by fakesnow)."""
        return {
            "user": "u",
            "password": "p",
            "account": "fakesnow",
            "host": self.host,
            "port": self.port,
            "protocol": "http",
        }

    def connect(self, database: str, schema: str | None = None) -> Any:
        """A snowflake.connector connection to this server; fakesnow creates `database` on first use."""
        import snowflake.connector

        kwargs = self.connect_kwargs | {"database": database}
        if schema is not None:
            kwargs["schema"] = schema
        return snowflake.connector.connect(**kwargs)

    def _launch(self) -> None:
        self.port = free_port()
        self._spawn([str(venv_bin("fakesnow")), "-s", "-p", str(self.port), "--host", self.host])

    def _ready(self) -> bool:
        if not _tcp_open(self.host, self.port):
            return False
        # A listening socket is not yet a working server: one real login and query proves it.
        with contextlib.closing(self.connect(self.probe_database, "PUBLIC")) as con:
            con.cursor().execute("SELECT 1").fetchall()
        return True
