"""Step Functions on moto with scripted Lambda results (DESIGN.md §7).

moto's Step Functions interpreter calls every service integration through a boto3 client bound to
`http://localhost:$MOTO_PORT`. moto cannot run Lambda code, and its "simple" Lambda backend can
only return successes, so this module puts a small HTTP front in between: moto is started with
`MOTO_PORT` pointing at the front, which answers Lambda `Invoke` calls from a test-supplied script
(results or function errors such as `ExportRunRetryable` or `Sandbox.Timedout`, exactly as the
Lambda API reports them) and forwards every other request (SNS publish, SQS, ...) to moto itself.
All of that is moto's own: with LOCALSTACK_HOST set, StepFunctionsStack() raises NeedsMotoError, and
the tests that use it are skipped saying so.

Usage::

    with StepFunctionsStack() as stack:
        stack.lambdas.script = lambda function, payload: Result({"items": []})
        sfn = stack.client("stepfunctions")
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from tests.support.stack import MotoServer, free_port, moto_only, venv_bin

_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass(frozen=True)
class Result:
    """A successful invocation: the function returned `payload`."""

    payload: Any


@dataclass(frozen=True)
class FunctionError:
    """An invocation whose function raised: Step Functions sees `error_type` as the error name."""

    error_type: str
    message: str = "scripted failure"


Outcome = Result | FunctionError
Script = Callable[[str, Any], Outcome]


@dataclass
class Invocation:
    function: str
    payload: Any


@dataclass
class ScriptedLambdas:
    """Answers Lambda Invoke from `script(function_name, payload)` and records every call."""

    script: Script | None = None
    calls: list[Invocation] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def invoke(self, function: str, payload: Any) -> Outcome:
        with self.lock:
            self.calls.append(Invocation(function, payload))
        if self.script is None:
            return FunctionError("Lambda.ResourceNotFoundException", f"no script for {function}")
        return self.script(function, payload)

    def payloads(self, function_suffix: str) -> list[Any]:
        """Payloads sent to functions whose name or ARN ends with `function_suffix`, in call order."""
        with self.lock:
            return [c.payload for c in self.calls if c.function.endswith(function_suffix)]


class _Front(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, lambdas: ScriptedLambdas) -> None:
        super().__init__(("127.0.0.1", free_port()), _Handler)
        self.lambdas = lambdas
        self.upstream = ""


class _Handler(BaseHTTPRequestHandler):
    server: _Front
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests assert on recorded calls, not on an access log."""

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # The caller may have given up (a Task's TimeoutSeconds): exactly what a timeout test provokes.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def _invoke(self, function: str, body: bytes) -> None:
        payload = json.loads(body) if body else None
        outcome = self.server.lambdas.invoke(function, payload)
        headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
        if isinstance(outcome, FunctionError):
            headers["X-Amz-Function-Error"] = "Unhandled"
            error = {"errorType": outcome.error_type, "errorMessage": outcome.message, "stackTrace": []}
            self._reply(200, json.dumps(error).encode(), headers)
        else:
            self._reply(200, json.dumps(outcome.payload).encode(), headers)

    def _forward(self, body: bytes) -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(  # noqa: S310 - loopback moto server
            self.server.upstream + self.path,
            data=body if self.command != "GET" else None,
            method=self.command,
            headers={k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP},
        )
        try:
            with opener.open(request, timeout=30) as response:
                self._reply(response.status, response.read(), dict(response.headers.items()))
        except urllib.error.HTTPError as exc:
            self._reply(exc.code, exc.read(), dict(exc.headers.items()))

    def _handle(self) -> None:
        body = self._body()
        match = _INVOKE_PATH.match(self.path)
        if self.command == "POST" and match:
            self._invoke(urllib.request.unquote(match["name"]), body)
        else:
            self._forward(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


class _MotoBehindFront(MotoServer):
    """A moto server whose service integrations (MOTO_PORT) go through the scripted front."""

    def __init__(self, front_port: int) -> None:
        super().__init__()
        self.front_port = front_port

    def _launch(self) -> None:
        self.port = free_port()
        self._spawn(
            [str(venv_bin("moto_server")), "-H", self.host, "-p", str(self.port)],
            {"MOTO_PORT": str(self.front_port)},
        )


class StepFunctionsStack:
    """A moto server executing state machines, plus the scripted Lambda front it calls."""

    def __init__(self) -> None:
        feature = "executing state machines (moto's /moto-api/config and MOTO_PORT)"
        self.lambdas = ScriptedLambdas()
        self._front = _Front(self.lambdas)
        try:
            self.moto = moto_only(feature, lambda: _MotoBehindFront(self._front.server_address[1]))
        except BaseException:
            self._front.server_close()
            raise
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._front.serve_forever, name="lambda-front", daemon=True)
        self._thread.start()
        try:
            self.moto.start()
            self._front.upstream = self.moto.endpoint_url
            self.moto.configure({"stepfunctions": {"execute_state_machine": True}})
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.moto.stop()
        self._front.shutdown()
        self._front.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def reset(self, script: Script | None = None) -> None:
        self.moto.reset()
        self.moto.configure({"stepfunctions": {"execute_state_machine": True}})
        with self.lambdas.lock:
            self.lambdas.calls.clear()
        self.lambdas.script = script

    def client(self, service: str) -> Any:
        return self.moto.client(service)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
