"""The narrow interfaces both services and the evidence readers are typed against.

Adapters satisfy them structurally (adapters/s3.ObjectStore, alert_routing.AlertRouter); unit tests
pass in-memory fakes (tests/support/memory.py), so a service's decisions are tested without a
server. Each service package adds the ports only it needs (exporter/ports.py, reconciler/ports.py).
"""

from __future__ import annotations

from typing import Any, Protocol

from aurora_sync.alerts import Alert


class ObjectReader(Protocol):
    """Listing and reading the bucket: what manifests and publish pins are read through."""

    bucket: str

    def sizes(self, prefix: str, start_after: str | None = None) -> dict[str, int]:
        """Keys under prefix (after `start_after`, in key order) with their sizes."""
        ...

    def read_if_exists(self, key: str) -> bytes | None:
        """None when the object is gone (deleted between a listing and this read)."""
        ...


class Alerts(Protocol):
    """Paging: one open problem, one page (alert_routing.AlertRouter)."""

    def raise_alert(self, alert: Alert, escalate_after: int | None = None) -> str: ...

    def resolve(self, check: str, table: str, run_id: str, evidence: str) -> bool: ...


class VersionedItems(Protocol):
    """The alert-state table's items, each written only if its version is still the one read
    (adapters/dynamodb.AlertStateTable): alert state (alert_routing) and on-call pauses (pauses.py)."""

    def get(self, dedup_key: str) -> dict[str, Any] | None: ...

    def put(self, item: dict[str, Any], expected_version: int | None) -> None: ...
