"""Everything the code under test logged, rendered the way CloudWatch would receive it.

Powertools' handler writes to the stdout that existed at import, which pytest's per-test capture
never sees; the records reach caplog, so we render them with Powertools' own JSON formatter.
"""

from __future__ import annotations

import logging

import pytest

from aurora_sync.observability import SERVICE


def rendered_logs(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> str:
    formatter = logging.getLogger(SERVICE).powertools_handler.formatter  # type: ignore[attr-defined]
    plain = logging.Formatter("%(name)s %(levelname)s %(message)s")
    records = [*caplog.get_records("setup"), *caplog.get_records("call")]
    lines = [(formatter if r.name == SERVICE else plain).format(r) for r in records]
    out, err = capsys.readouterr()
    return "\n".join(lines) + out + err
