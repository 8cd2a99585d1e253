"""The benchmark's modules build on the end-to-end harness (tests/e2e/harness): make it importable."""

from __future__ import annotations

import sys
from pathlib import Path

E2E = Path(__file__).resolve().parents[2] / "e2e"
if str(E2E) not in sys.path:
    sys.path.insert(0, str(E2E))
