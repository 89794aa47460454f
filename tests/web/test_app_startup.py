"""What an app server holds before its first request: every ``serve --workers N`` process pays
it, so the heavy scientific modules load on the first quality page, not at start."""

from __future__ import annotations

import json
import subprocess
import sys

# scipy.stats alone is ~70 MB of resident memory per process; optimize ~50, linalg ~30.
NOT_AT_START = ["scipy.stats", "scipy.optimize", "scipy.linalg", "pyarrow", "spacy", "datasets"]


def test_the_app_starts_without_the_heavy_scientific_modules():
    probe = (
        "import json, sys\n"
        "from labelhouse.web.app import create_app\n"
        f"print(json.dumps([m for m in {NOT_AT_START!r} if m in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == []


def test_the_statistics_still_load_them_when_asked():
    from labelhouse.quality.preference_checks import position_bias

    result = position_bias([1, 1, 1, 0, 1, 1, 1, 1, 1, 1])
    assert 0.0 < result.p_value < 0.2
    assert "scipy.stats" in sys.modules
