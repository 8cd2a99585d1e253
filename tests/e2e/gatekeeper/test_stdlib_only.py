"""The gatekeeper's settings load in a bare interpreter: the image has no charm and no ops."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src"


def test_the_config_loads_with_the_standard_library_alone():
    """The image ships the gatekeeper without the charm: its settings may not need ops or a charm module."""
    script = (
        "import json, sys; import gatekeeper.config; print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", f"import sys; sys.path[:0] = [{str(SRC)!r}]; {script}"],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = set(json.loads(out.stdout))
    outside = {name for name in loaded if name not in sys.stdlib_module_names and not name.startswith("_")}
    assert outside == {"gatekeeper"}
