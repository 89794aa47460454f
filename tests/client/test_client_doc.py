"""docs/python-client.md's complete example runs as written: its ``python example`` block is
executed as a script against the real server of this session (a fresh folder, the address
and a token in the environment, as the page says), and prints what the page shows (``...``
stands for what differs from run to run). The other snippets are checked to compile."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.client.conftest import LiveServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "python-client.md"
BLOCK = re.compile(r"^```(\w+)(?: (\w+))?\n(.*?)^```", re.S | re.M)


def blocks() -> list[tuple[str, str, str]]:
    return BLOCK.findall(DOC.read_text(encoding="utf-8"))


def matches(pattern: str, line: str) -> bool:
    return re.fullmatch(".*".join(re.escape(p) for p in pattern.split("...")), line) is not None


def test_the_complete_example_runs_and_prints_what_the_doc_says(live: LiveServer, tmp_path: Path):
    (script,) = [body for lang, role, body in blocks() if (lang, role) == ("python", "example")]
    (expected,) = [body for lang, role, body in blocks() if (lang, role) == ("text", "output")]
    (tmp_path / "example.py").write_text(script)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELHOUSE_")}
    env |= {"LABELHOUSE_URL": live.url, "LABELHOUSE_TOKEN": live.owner_token}
    result = subprocess.run(
        [sys.executable, "example.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    wanted = expected.splitlines()
    assert len(lines) == len(wanted), result.stdout
    for pattern, line in zip(wanted, lines, strict=True):
        assert matches(pattern, line), (pattern, line)
    assert "tasks created" in result.stderr  # the progress hook
    records = [json.loads(x) for x in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert len(records) == 100 and "consensus" in records[0] and "annotations" in records[0]


def test_every_other_snippet_is_python_that_compiles():
    snippets = [body for lang, role, body in blocks() if lang == "python" and role != "example"]
    assert len(snippets) >= 3
    for body in snippets:
        compile(body, str(DOC), "exec")
