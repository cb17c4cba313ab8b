"""The fakes keep the real adapters' signatures for every method of the port they stand in for, so
a unit test cannot pass against a call production would refuse (a renamed keyword, a new default)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from aurora_sync.adapters.postgres import Aurora
from aurora_sync.adapters.s3 import MultipartWriter, ObjectStore
from aurora_sync.adapters.snowflake import Snowflake
from aurora_sync.adapters.ssm import ParameterStore
from aurora_sync.alert_routing import AlertRouter
from aurora_sync.exporter.lease import TableLeases
from aurora_sync.exporter.ports import (
    AuroraSource,
    ExportStore,
    Leases,
    Overrides,
    PartWriter,
    WatermarkSource,
)
from aurora_sync.ports import Alerts
from tests.support.memory import RecordingAlerts
from tests.unit.exporter.fakes import (
    ExportMemoryStore,
    FakeAurora,
    FakeLeases,
    FakeOverrides,
    FakeSnowflake,
    MemoryWriter,
)

PORTS = [
    (AuroraSource, Aurora, FakeAurora),
    (WatermarkSource, Snowflake, FakeSnowflake),
    (ExportStore, ObjectStore, ExportMemoryStore),
    (PartWriter, MultipartWriter, MemoryWriter),
    (Overrides, ParameterStore, FakeOverrides),
    (Leases, TableLeases, FakeLeases),
    (Alerts, AlertRouter, RecordingAlerts),
]


def port_methods(port: type) -> list[str]:
    """The methods a Protocol declares, its bases' included."""
    return sorted(
        name
        for klass in port.__mro__
        if klass is not object and getattr(klass, "_is_protocol", False)
        for name, value in vars(klass).items()
        if inspect.isfunction(value) and not name.startswith("_")
    )


@pytest.mark.parametrize(("port", "real", "fake"), PORTS, ids=[p.__name__ for p, _, _ in PORTS])
def test_each_fake_has_the_real_adapters_signature_for_every_port_method(
    port: type, real: type, fake: type
) -> None:
    methods = port_methods(port)
    assert methods, port
    for name in methods:
        wanted = inspect.signature(getattr(real, name))
        found = inspect.signature(getattr(fake, name))
        port_return = inspect.signature(getattr(port, name)).return_annotation
        # GIVEN the port's method WHEN the fake's signature is compared with the real adapter's
        # THEN the parameters are the same (names, kinds, defaults, annotations), and the fake
        # returns what the adapter returns, or what the port promises (a writer, not MultipartWriter)
        assert list(found.parameters.values()) == list(wanted.parameters.values()), (fake, name)
        assert found.return_annotation in (wanted.return_annotation, port_return), (fake, name)


def test_the_ports_name_the_methods_the_exporter_calls() -> None:
    declared: dict[str, Any] = {port.__name__: port_methods(port) for port, _, _ in PORTS}
    assert declared["AuroraSource"] == [
        "bucket_keys",
        "close",
        "columns",
        "copy_out",
        "export_to_s3",
        "key_digests",
        "key_hash_stream",
        "key_sample",
        "limit_statements",
        "nullable",
        "present_keys",
        "row_estimate",
        "safe_bound",
    ]
    assert declared["ExportStore"] == [
        "copy",
        "delete",
        "put_json",
        "put_json_if",
        "read_if_exists",
        "read_range",
        "read_with_etag",
        "sizes",
        "writer",
    ]
