"""One lazy boto3 client factory per cold start, with an explicit region (never a silent default).

boto3 honours AWS_ENDPOINT_URL by itself, which is how tests point every client at moto.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=60)
# KMS Decrypt answers in milliseconds: a short timeout and fewer attempts leave the run its time.
_SERVICE_CONFIG = {
    "kms": Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=10),
}


@cache
def _session() -> Any:
    """One botocore session per container: each extra Session costs ~5 MiB of loaded models."""
    import boto3

    return boto3.session.Session()


@cache
def client(service: str, region: str) -> Any:
    return _session().client(service, region_name=region, config=_SERVICE_CONFIG.get(service, _CONFIG))
