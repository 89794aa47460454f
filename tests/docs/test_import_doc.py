"""The examples in docs/import.md are real: each task file is imported into a project with the
schema before it (through the service, the CLI or the API, on every database), refused files
are refused with exactly the documented errors, and the documented rejected file and API
answer are what the import really gives."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from labelhouse.cli.main import app as cli_app
from labelhouse.errors import InvalidInput
from labelhouse.kinds.registry import parse_schema
from labelhouse.storage import LocalStorage
from labelhouse.tasks.importer import run_import
from labelhouse.tasks.models import Prediction, Task
from labelhouse.tasks.readers import RowError, read_rows
from labelhouse.tasks.service import store_file
from tests.factories import make_project, token_client
from tests.helpers_data import png_bytes

DOC = Path(__file__).resolve().parents[2] / "docs" / "import.md"
BLOCK = re.compile(
    r"```(\w+) (schema|tasks|refused|error|cli|rejected|response|parquet)\n(.*?)```", re.S
)
KINDS = {"choice", "choices", "spans", "text", "rating", "pairwise", "ranking", "boxes"}
IMAGE_NAME = re.compile(r'"([\w-]+\.png)"')


def blocks() -> list[tuple[str, str, str]]:
    return [m.groups() for m in BLOCK.finditer(DOC.read_text())]


def test_the_doc_has_every_kind_of_block():
    roles = [role for _, role, _ in blocks()]
    for role in ("schema", "tasks", "refused", "error", "cli", "rejected", "response", "parquet"):
        assert role in roles, role
    formats = {lang for lang, role, _ in blocks() if role == "tasks"}
    assert formats == {"jsonl", "json", "csv"}  # and Parquet, written by the python block


class Walk:
    """Runs the doc's blocks in order against real databases."""

    def __init__(self, db, owner, app, db_url: str, tmp_path: Path) -> None:
        self.db, self.owner, self.app, self.db_url, self.tmp = db, owner, app, db_url, tmp_path
        self.storage = LocalStorage(tmp_path / "files")
        self.schema: dict[str, Any] | None = None
        self.refused: tuple[str, bytes] | None = None
        self.details: list[str] = []
        self.tasks: tuple[str, bytes] | None = None
        self.kinds_imported: set[str] = set()
        self.formats_imported: set[str] = set()
        self.checked: list[str] = []

    def project(self) -> int:
        assert self.schema is not None, "a schema block must come first"
        return make_project(self.db, self.owner, schema=self.schema)

    def upload_images(self, pid: int, body: bytes) -> None:
        """The boxes example's images: 640 × 480, as the doc says."""
        with self.db.session() as s:
            for name in sorted(set(IMAGE_NAME.findall(body.decode(errors="ignore")))):
                store_file(
                    s,
                    self.owner.actor,
                    pid,
                    name=name,
                    source=io.BytesIO(png_bytes(640, 480)),
                    storage=self.storage,
                    max_bytes=10 << 20,
                )

    def import_tasks(self, fmt: str, body: bytes) -> None:
        pid = self.project()
        self.upload_images(pid, body)
        result = run_import(
            self.db, self.owner.actor, pid, io.BytesIO(body), filename=f"tasks.{fmt}"
        )
        rows = [r for _, r in read_rows(io.BytesIO(body), fmt)]
        assert not any(isinstance(r, RowError) for r in rows)
        assert (result.rows, result.created, result.rejected) == (len(rows), len(rows), 0)
        with self.db.read_session() as s:
            predictions = s.scalar(
                select(func.count()).select_from(Prediction).where(Prediction.project_id == pid)
            )
            gold = s.scalar(
                select(func.count())
                .select_from(Task)
                .where(Task.project_id == pid, Task.gold.is_not(None))
            )
        assert predictions == sum(len(r.get("predictions") or []) for r in rows)
        assert gold == sum(1 for r in rows if r.get("gold"))
        assert predictions + gold > 0  # every example shows how to write them
        self.kinds_imported |= {f.kind for f in parse_schema(self.schema).fields}
        self.formats_imported.add(fmt)

    def refuse(self, fmt: str, body: bytes) -> None:
        pid = self.project()
        with pytest.raises(InvalidInput) as exc:
            run_import(self.db, self.owner.actor, pid, io.BytesIO(body), filename=f"tasks.{fmt}")
        self.details = [f"{d.field}: {d.problem}" for d in exc.value.details]
        self.refused = (fmt, body)

    def cli(self, *args: str) -> Any:
        return CliRunner().invoke(
            cli_app,
            [*args, "--data-dir", str(self.tmp / "cli")],
            env={"LABELHOUSE_DATABASE_URL": self.db_url},
            catch_exceptions=False,
        )

    def refused_file(self) -> Path:
        assert self.refused is not None
        fmt, body = self.refused
        path = self.tmp / f"tasks.{fmt}"
        path.write_bytes(body)
        return path

    def run(self, lang: str, role: str, body: str) -> None:
        data = body.encode()
        if role == "schema":
            self.schema = json.loads(body)
            parse_schema(self.schema)
        elif role == "tasks":
            self.tasks = (lang, data)
            self.import_tasks(lang, data)
        elif role == "parquet":
            exec(compile(body, str(DOC), "exec"), {"__name__": "doc_example"})
            self.import_tasks("parquet", Path("tasks.parquet").read_bytes())
        elif role == "refused":
            self.refuse(lang, data)
        elif role == "error":
            assert self.details == body.strip().splitlines()
        elif role == "cli":
            result = self.cli("import", str(self.project()), str(self.refused_file()))
            assert result.exit_code == 1
            shown = " ".join(result.output.split())
            for line in body.strip().splitlines():
                assert " ".join(line.split()) in shown
        elif role == "rejected":
            path = self.refused_file()
            result = self.cli("import", str(self.project()), str(path), "--skip-invalid")
            assert result.exit_code == 0, result.output
            written = Path(f"{path}.rejected.jsonl").read_bytes().splitlines()
            assert [orjson.loads(w) for w in written] == [
                orjson.loads(line) for line in body.strip().splitlines()
            ]
        elif role == "response":
            assert self.tasks is not None
            fmt, tasks = self.tasks
            api = token_client(self.app, self.db, self.owner)
            r = api.post(
                f"/api/projects/{self.project()}/import",
                files={"file": (f"tasks.{fmt}", tasks, "application/octet-stream")},
            )
            assert r.status_code == 200, r.text
            real, documented = r.json(), json.loads(body)
            assert list(real) == list(documented)
            assert {k: v for k, v in real.items() if k != "import_id"} == {
                k: v for k, v in documented.items() if k != "import_id"
            }
            assert type(real["import_id"]) is type(documented["import_id"])
        self.checked.append(role)


def test_every_example_in_the_doc_does_what_it_says(db, owner, app, db_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    walk = Walk(db, owner, app, db_url, tmp_path)
    for lang, role, body in blocks():
        walk.run(lang, role, body)
    assert walk.kinds_imported == KINDS
    assert walk.formats_imported == {"jsonl", "json", "csv", "parquet"}
    assert walk.checked.count("error") == walk.checked.count("refused")
