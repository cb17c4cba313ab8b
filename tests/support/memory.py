"""In-memory stand-ins for the ports services are typed against (aurora_sync.ports and each
service's ports.py), for unit tests of their decisions. They keep the contract the real adapter
keeps where a decision depends on it (listing in key order, `start_after`, a missing key is None),
and fail a test loudly where a call is not expected, rather than pretending it succeeded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from aurora_sync.alerts import Alert
from aurora_sync.errors import SyncError


@dataclass
class MemoryStore:
    """A bucket as a dict of key -> bytes. `fail_on` makes the named operation raise, to test what a
    service does when S3 refuses (e.g. {"delete": TransientError("throttled")})."""

    bucket: str = "exports"
    objects: dict[str, bytes] = field(default_factory=dict)
    fail_on: dict[str, SyncError] = field(default_factory=dict)

    def _check(self, operation: str) -> None:
        if operation in self.fail_on:
            raise self.fail_on[operation]

    def sizes(self, prefix: str, start_after: str | None = None) -> dict[str, int]:
        self._check("sizes")
        return {
            k: len(v)
            for k, v in sorted(self.objects.items())
            if k.startswith(prefix) and (start_after is None or k > start_after)
        }

    def read_if_exists(self, key: str) -> bytes | None:
        self._check("read")
        return self.objects.get(key)

    def read(self, key: str) -> bytes:
        self._check("read")
        return self.objects[key]

    def read_range(self, key: str, start: int, end: int) -> bytes:
        self._check("read")
        return self.objects[key][start : end + 1]

    def exists(self, key: str) -> bool:
        self._check("sizes")
        return key in self.objects

    def put_json(self, key: str, body: str) -> None:
        self._check("put")
        self.objects[key] = body.encode()

    def put_json_if(self, key: str, body: str, *, etag: str | None) -> bool:
        """S3's conditional write: absent (etag None) or unchanged since read (etag its ETag)."""
        self._check("put")
        current = self.objects.get(key)
        if (current is not None) if etag is None else (current is None or _etag(current) != etag):
            return False
        self.objects[key] = body.encode()
        return True

    def read_with_etag(self, key: str) -> tuple[bytes, str] | None:
        self._check("read")
        body = self.objects.get(key)
        return None if body is None else (body, _etag(body))

    def delete(self, keys: list[str]) -> None:
        self._check("delete")
        for key in keys:
            self.objects.pop(key, None)

    def copy(self, source_key: str, target_key: str, size: int, prefix: bytes = b"") -> int:
        self._check("copy")
        data = prefix + self.objects[source_key][:size]
        self.objects[target_key] = data
        return len(data)

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))


def _etag(body: bytes) -> str:
    """An ETag as S3 gives a single-part object's: the quoted MD5 of its bytes."""
    return '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'


@dataclass
class RecordingAlerts:
    """Records raises and resolves as the router would receive them; sends nothing."""

    raised: list[tuple[Alert, int | None]] = field(default_factory=list)
    resolved: list[tuple[str, str, str]] = field(default_factory=list)  # (check, table, evidence)

    def raise_alert(self, alert: Alert, escalate_after: int | None = None) -> str:
        self.raised.append((alert, escalate_after))
        return "notified"

    def resolve(self, check: str, table: str, run_id: str, evidence: str) -> bool:
        self.resolved.append((check, table, evidence))
        return True

    def checks(self) -> list[str]:
        return [alert.check for alert, _ in self.raised]
