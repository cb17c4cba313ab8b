"""`make bench`: throughput and peak memory of the copy_stream export path against a same-run baseline.

Run as `python -m bench.run` from the repository root. The domain package lives under lambdas/, which
pytest puts on sys.path through pyproject's `pythonpath`; outside pytest the bench does it here.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAMBDAS = ROOT / "lambdas"

for _path in (str(LAMBDAS), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)
