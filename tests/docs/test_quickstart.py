"""docs/quickstart.md is a walk-through a new user follows command by command: every
``bash`` block in it runs here, in order, in one shell, in a fresh folder, with the real
``labelhouse`` command. (``console`` blocks, such as the one that starts the server, are
shown but not run.) The labels it exports are then read back."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "quickstart.md"
BASH_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)


def test_every_bash_block_of_the_quickstart_runs_in_a_fresh_folder(tmp_path: Path):
    blocks = BASH_BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 5, "the walk-through lost its commands"
    # What `labelhouse serve` did at its first start (step 1, not run here): the owner.
    first_start = (
        "LABELHOUSE_DATA_DIR=./labelhouse-data labelhouse users create owner@lab.example "
        "--role owner >/dev/null"
    )
    script = "set -euo pipefail\n" + first_start + "\n" + "\n".join(blocks)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "LABELHOUSE_DATA_DIR": "",  # the doc sets it
        "LABELHOUSE_DATABASE_URL": "",
    }
    env = {k: v for k, v in env.items() if v != ""}
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    # The annotator's password was captured from standard output, alone.
    line = next(x for x in result.stdout.splitlines() if x.startswith("ann@lab.example's"))
    assert re.fullmatch(r"ann@lab\.example's one-time password: \S{12,}", line)
    labels = [json.loads(x) for x in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert [r["external_id"] for r in labels] == ["r1", "r2", "r3"]
    assert labels[0]["data"] == {"text": "Great product, arrived early."}
    consensus = (tmp_path / "consensus.jsonl").read_text().splitlines()
    assert len(consensus) == 3
    assert (tmp_path / "labelhouse-data").is_dir()
