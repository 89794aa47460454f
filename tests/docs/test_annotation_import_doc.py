"""The "Importing existing annotations" examples in docs/import.md are real: each annotation
block imports into a project of reviews with the fields the doc names, and the CLI line runs."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

from typer.testing import CliRunner

from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import Role
from labelhouse.annotations.imports import import_file
from labelhouse.cli.main import app as cli_app
from labelhouse.errors import Conflict
from tests.factories import PASSWORD, add_tasks, make_project

DOC = Path(__file__).resolve().parents[2] / "docs" / "import.md"
SECTION = DOC.read_text().split("## Importing existing annotations", 1)[1]
BLOCK = re.compile(r"```(\w+) (annotations|annotations-long)\n(.*?)```", re.S)
CLI = re.compile(r"```bash\n(labelhouse annotations import .*?)\n```", re.S)
SCHEMA = {
    "fields": [
        {
            "name": "sentiment",
            "kind": "choice",
            "reads": ["text"],
            "options": [{"value": "positive"}, {"value": "negative"}],
        },
        {"name": "stars", "kind": "rating", "min": 1, "max": 5, "required": False},
    ]
}


def reviews(db, owner, name: str = "Reviews") -> int:
    """A project of two reviews (each example imports into a fresh one), and the member the
    examples name."""
    pid = make_project(db, owner, SCHEMA, name=name, overlap=3)
    add_tasks(db, owner, pid, [{"external_id": f"r-{i}", "text": f"review {i}"} for i in (1, 2)])
    with contextlib.suppress(Conflict), db.session() as s:  # once per organization
        accounts.create_user(
            s,
            email="ann@lab.example",
            password=PASSWORD,
            organization_id=owner.organization_id,
            role=Role.annotator,
        )
    return pid


def test_every_annotation_example_imports(db, owner):
    found = BLOCK.findall(SECTION)
    assert [role for _, role, _ in found] == ["annotations", "annotations", "annotations-long"]
    for n, (lang, role, body) in enumerate(found):
        pid = reviews(db, owner, f"Reviews {n}")
        fmt = "long" if role == "annotations-long" else lang
        lines = [line for line in body.strip().splitlines() if line]
        with db.session() as s:
            result = import_file(
                s,
                owner.actor,
                pid,
                io.BytesIO(body.encode()),
                filename=f"x.{lang}",
                file_format=fmt,
                field_name="sentiment" if fmt == "long" else None,  # as the CLI line names it
            )
        assert result.ok, result.problems
        assert result.rows == len(lines) - (lang == "csv")
        assert result.imported + result.unchanged == result.rows


def test_the_cli_example_runs(db, owner, db_url, tmp_path, monkeypatch):
    reviews(db, owner)
    (_, _, body) = BLOCK.findall(SECTION)[-1]
    (tmp_path / "crowd.csv").write_text(body)
    monkeypatch.chdir(tmp_path)  # the line names the file as in the current folder
    args = shlex.split(CLI.search(SECTION).group(1))[1:]
    result = CliRunner().invoke(
        cli_app,
        [*args, "--data-dir", str(tmp_path / "cli")],
        env={"LABELHOUSE_DATABASE_URL": db_url},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Imported 3 answers from 3 rows")
