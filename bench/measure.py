"""The three measured variants, each one child process (or, for the baseline, one pipe of two).

Every variant is timed by the parent from spawn to exit ("process" time, interpreter start-up and
imports included) and, where the child can say, around its own export call ("in-call" time).

Peak RSS is VmHWM from /proc/<pid>/status: read by each Python process itself as its last act, and for
psql (which cannot report it) polled by the parent while psql runs. `ru_maxrss` from wait4() or
getrusage(RUSAGE_CHILDREN) is NOT usable here: Linux carries the high-water mark of the address space
a process had before exec() over into its rusage, and a child forked (vfork'd) by this ~150 MiB runner
reports at least the runner's own peak: every variant read 154 MiB, /bin/true included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import LAMBDAS, ROOT
from tests.support import AWS_ACCOUNT_ENV

CHILD_TIMEOUT_S = 1800.0

# Same shape as the brief's `python -c "<boto3 s3.upload_fileobj(sys.stdin.buffer, bucket, key)>"`:
# boto3's managed transfer (8 MiB parts, up to 10 threads) reading psql's stdout.
# The last line records the uploader's peak RSS (VmHWM) for the report; it is not part of the work.
BASELINE_UPLOADER = """
import os, sys, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
s3.upload_fileobj(sys.stdin.buffer, sys.argv[1], sys.argv[2])
open(sys.argv[3], "w").write([l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1])
"""

# Anything from the caller's shell that could send boto3 somewhere other than moto.
_AWS_ENV_REMOVED = AWS_ACCOUNT_ENV


@dataclass
class Sample:
    variant: str
    size: int
    rep: int
    process_s: float
    rows: int
    key: str
    peak_rss_kib: int
    in_call_s: float | None = None
    bytes: int = 0
    cpu_s: dict[str, float] = field(default_factory=dict)  # client / postgres / moto CPU seconds
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """The figure rows/s is computed from: in-call when the child measured it, else process."""
        return self.in_call_s if self.in_call_s is not None else self.process_s


class ChildFailed(RuntimeError):
    pass


def child_env(workdir: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _AWS_ENV_REMOVED}
    missing = str(workdir / "no-aws-config")
    env.update(
        PYTHONPATH=os.pathsep.join([str(LAMBDAS), str(ROOT)]),
        PYTHONUNBUFFERED="1",
        AWS_CONFIG_FILE=missing,
        AWS_SHARED_CREDENTIALS_FILE=missing,
        AWS_EC2_METADATA_DISABLED="true",
    )
    env.update(extra)
    return env


def _vmhwm_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


class HighWaterPoller(threading.Thread):
    """Polls a process's VmHWM until it exits; VmHWM only grows, so the last reading is its peak up
    to the final interval (psql's memory is flat while it streams, so that gap does not matter)."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_kib = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            value = _vmhwm_kib(self.pid)
            if value is not None:
                self.peak_kib = max(self.peak_kib, value)
            self._done.wait(self.interval)

    def finish(self) -> int:
        self._done.set()
        self.join()
        return self.peak_kib


def _wait(proc: subprocess.Popen[bytes], timeout: float = CHILD_TIMEOUT_S) -> float:
    """Reap `proc` (killed after `timeout`) and return the CPU seconds it used (user + system, all
    threads). wait4's CPU times are exact per child; only its ru_maxrss is unusable (see above)."""
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return float(usage.ru_utime + usage.ru_stime)


def process_cpu_s(pid: int) -> float:
    """CPU seconds of a running process plus its reaped children (utime, stime, cutime, cstime).
    For the postmaster that includes every backend that has exited, for moto all its threads."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command name: state is fields[0], so utime..cstime (stat fields 14-17) are [11:15].
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    """What one spawned measurement returned."""

    seconds: float  # spawn to exit
    cpu_s: float  # CPU of the measured process(es)
    result: dict[str, Any] = field(default_factory=dict)
    peak_rss_kib: int = 0
    extra_rss_kib: int | None = None


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def run_python_child(module: str, spec: dict[str, Any], workdir: Path, name: str, env: dict[str, str]) -> Run:
    """Run `python -m module SPEC`; its result JSON carries "vmhwm_kib" and what the child measured."""
    spec_path = workdir / f"{name}.spec.json"
    result_path = workdir / f"{name}.result.json"
    log_path = workdir / f"{name}.log"
    result_path.unlink(missing_ok=True)
    spec_path.write_text(json.dumps({**spec, "result": str(result_path)}))
    with log_path.open("wb") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", module, str(spec_path)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=env,
        )
        cpu = _wait(proc)
        elapsed = time.perf_counter() - started
    if proc.returncode != 0 or not result_path.exists():
        raise ChildFailed(f"{module} exited {proc.returncode}; {log_path} ends with:\n{_log_tail(log_path)}")
    result: dict[str, Any] = json.loads(result_path.read_text())
    return Run(elapsed, cpu, result, int(result["vmhwm_kib"]))


def run_baseline(
    psql: Path,
    pg_args: list[str],
    *,
    password: str,
    query: str,
    bucket: str,
    key: str,
    workdir: Path,
    name: str,
    env: dict[str, str],
) -> Run:
    """`psql -c "COPY (query) TO STDOUT ..." | python -c "<upload_fileobj>"`, the two ends spawned and
    joined by a pipe exactly as a shell would. Peak RSS is the uploader's, extra_rss_kib psql's."""
    copy = f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER)"
    psql_env = {**env, "PGPASSWORD": password, "PGTZ": "UTC"}
    log_path = workdir / f"{name}.log"
    hwm_path = workdir / f"{name}.vmhwm"
    hwm_path.unlink(missing_ok=True)
    with log_path.open("wb") as log:
        started = time.perf_counter()
        producer = subprocess.Popen(
            [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", *pg_args, "-c", copy],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            env=psql_env,
        )
        poller = HighWaterPoller(producer.pid)
        poller.start()
        assert producer.stdout is not None
        consumer = subprocess.Popen(
            [sys.executable, "-c", BASELINE_UPLOADER, bucket, key, str(hwm_path)],
            stdin=producer.stdout,
            stdout=log,
            stderr=log,
            env=env,
        )
        producer.stdout.close()  # the uploader holds the only read end now
        try:
            cpu = _wait(producer) + _wait(consumer)
        finally:
            psql_rss = poller.finish()
        elapsed = time.perf_counter() - started
    if producer.returncode != 0 or consumer.returncode != 0 or not hwm_path.exists():
        raise ChildFailed(
            f"baseline failed (psql {producer.returncode}, uploader {consumer.returncode}); "
            f"{log_path} ends with:\n{_log_tail(log_path)}"
        )
    return Run(elapsed, cpu, peak_rss_kib=int(hwm_path.read_text()), extra_rss_kib=psql_rss)
