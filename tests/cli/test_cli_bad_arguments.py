"""Every command and sub-command, found in the Typer app (so a new command is covered the day
it is added), run with bad arguments: missing files, a folder instead of a file and the
other way round, binary files, ids and names nothing has, an unusable database URL, a data
folder that is a file. Each must end with a non-zero exit status and a sentence, never a
traceback, and never through the last-resort handler (that one is for bugs: a bad argument
is reported where it is understood).

The database holds one organization with its owner and a project named 'Reviews', so that
what is not spoiled is plausible and a command gets as far as the spoiled part."""

from __future__ import annotations

import itertools
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer.main
from typer.testing import CliRunner

from labelhouse.audit import keys
from labelhouse.cli.app import BUG_SENTENCE
from labelhouse.cli.main import app as cli_app
from labelhouse.people import teams
from tests.factories import CHOICE_SCHEMA, make_project, text_rows
from tests.helpers_data import jsonl_bytes

MISSING_ID = "987654321"
# Path parameters a command writes to (a file that exists there is not a mistake).
OUTPUTS = {"output", "rejected", "private_key_path"}
# String parameters that name something in the database.
NAMES = {"team", "from_", "to"}
# What a command needs besides its required parameters to get as far as the spoiled one
# (serve: a free port, whatever happens): options go first (a spoiled value, later on the
# line, wins), arguments last.
BASE_OPTIONS = {
    ("serve",): ["--port", "0"],
    ("workforces", "set"): ["--kind", "staff"],
    ("audit", "checkpoint"): ["--output", "{fresh}", "--key", "{private_key}"],
    ("audit", "verify"): ["--public-key", "{public_key}", "--checkpoints", "{empty}"],
    ("audit-verify",): ["--public-key", "{public_key}", "--checkpoints", "{empty}"],
}
BASE_ARGUMENTS = {("route", "share"): ["Crew=1"], ("route", "each"): ["Crew=1"]}
STARTED_AFTER = 20.0  # seconds: no bad argument takes this long to be found
BAD_URLS = {
    "an absent driver": "postgresql+pg8000://nobody@127.0.0.1:5432/x",
    "psycopg2 (absent)": "postgresql://nobody@127.0.0.1:5432/x",
    "an unknown driver": "postgresql+nosuchdriver://nobody@127.0.0.1:5432/x",
    "another database": "mysql://nobody@127.0.0.1/x",
    "not a URL": "labelhouse.db",
    "a server nobody runs": "postgresql+psycopg://nobody@127.0.0.1:1/x",
    "a SQLite file in a missing folder": "sqlite:////nonexistent-folder/labelhouse.db",
}


def leaf_commands() -> list[tuple[tuple[str, ...], Any]]:
    """(words, click command) for every command that runs something."""
    found = []

    def walk(command: Any, words: tuple[str, ...]) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                walk(sub, (*words, name))
        else:
            found.append((words, command))

    walk(typer.main.get_command(cli_app), ())
    return found


@dataclass
class Files:
    root: Path
    schema: Path
    tasks: Path
    text: Path
    binary: Path
    folder: Path
    missing: Path
    private_key: Path
    public_key: Path
    empty: Path
    counter: Iterator[int]

    def fresh(self) -> Path:
        return self.root / f"new-{next(self.counter)}.out"


@pytest.fixture
def files(tmp_path: Path) -> Files:
    root = tmp_path / "files"
    root.mkdir()
    (root / "schema.json").write_bytes(orjson.dumps(CHOICE_SCHEMA))
    (root / "tasks.jsonl").write_bytes(jsonl_bytes(text_rows(2)))
    (root / "plain.txt").write_text("someone@example.com\n1\n")
    # not UTF-8 (nor UTF-16: no byte-order mark), NUL bytes included
    (root / "image.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x80\x81\xfe\xc3(")
    (root / "empty.jsonl").write_bytes(b"")
    (root / "folder").mkdir()
    (root / "folder" / "inside.txt").write_text("x")
    public = keys.generate_key_file(root / "signing.pem")
    (root / "signing.pub").write_text(keys.public_pem(public))
    return Files(
        root,
        root / "schema.json",
        root / "tasks.jsonl",
        root / "plain.txt",
        root / "image.bin",
        root / "folder",
        root / "missing-folder" / "nothing.jsonl",
        root / "signing.pem",
        root / "signing.pub",
        root / "empty.jsonl",
        itertools.count(),
    )


def _is_path(param: Any) -> bool:
    d = param.type_descriptor
    return bool(d.is_path or (d.is_list and "Path" in str(d.annotation))) or param.name == "file"


def spoils(param: Any, files: Files) -> list[tuple[str, str]]:
    """(what is wrong, the value) for the bad values this parameter can be given."""
    name = param.name
    if _is_path(param):
        info = param.type_descriptor.parameter_info
        if name in OUTPUTS:
            return [("in a missing folder", str(files.missing)), ("a folder", str(files.folder))]
        if info is not None and not info.file_okay:  # a folder parameter
            found = [("a file", str(files.binary))]
            return found + ([("missing", str(files.missing))] if info.exists else [])
        return [
            ("missing", str(files.missing)),
            ("a folder", str(files.folder)),
            ("a binary file", str(files.binary)),
        ]
    if name == "project":
        return [("a name no project has", "No such project"), ("an id no project has", MISSING_ID)]
    if name in NAMES:
        return [("a name nothing has", "Nobody by this name")]
    annotation = param.type_descriptor.annotation
    if annotation is int and (name == "organization" or name.endswith("_id")):
        return [("an id nothing has", MISSING_ID)]
    return []


def plausible(param: Any, files: Files) -> str:
    """A value for a required parameter that is not the one spoiled."""
    name = param.name
    if name == "schema":
        return str(files.schema)
    if name in OUTPUTS:
        return str(files.fresh())
    if name == "file":
        return str(files.tasks)
    if _is_path(param):
        return str(files.text)
    if name == "project":
        return "Reviews"
    if name == "email":
        return "someone@example.com"
    if param.type_descriptor.annotation is int:
        return "1"
    return "Fresh"


def _args(param: Any, value: str) -> list[str]:
    return [value] if param.param_type_name == "argument" else [param.opts[0], value]


def command_line(
    words: tuple[str, ...], command: Any, files: Files, spoiled: Any = None, value: str = ""
) -> list[str]:
    """The command with plausible values for what it needs, and ``value`` for ``spoiled``."""
    out = [*words]
    for a in BASE_OPTIONS.get(words, []):
        out.append(
            a.format(
                fresh=files.fresh(),
                empty=files.empty,
                private_key=files.private_key,
                public_key=files.public_key,
            )
        )
    for p in command.params:
        if p is spoiled:
            out += _args(p, value)
        elif p.expose_value and p.required:
            out += _args(p, plausible(p, files))
    return out + BASE_ARGUMENTS.get(words, [])


def variants(words: tuple[str, ...], command: Any, files: Files) -> Iterator[tuple[str, list[str]]]:
    """(what is wrong, arguments) for each bad value of each parameter."""
    for p in command.params:
        if p.expose_value:
            for what, value in spoils(p, files):
                yield f"{p.name} is {what}", command_line(words, command, files, p, value)


CASES = [pytest.param(words, id=" ".join(words)) for words, _ in leaf_commands()]
URL_CASES = [
    pytest.param(words, id=" ".join(words))
    for words, command in leaf_commands()
    if any(p.name == "data_dir" for p in command.params)
]


@pytest.fixture
def data(db, owner, tmp_path):
    make_project(db, owner, name="Reviews")
    with db.session() as s:
        teams.create_team(s, owner.actor, name="Crew")
    return tmp_path / "cli-data"


def attempt(words: tuple[str, ...], args: list[str], url: str) -> str | None:
    """What went wrong when running the command, if anything."""
    # A `serve` that got past a bad argument would serve forever: stop it (status 0).
    guard = threading.Timer(STARTED_AFTER, os.kill, (os.getpid(), signal.SIGINT))
    if words == ("serve",):
        guard.start()
    try:
        result = CliRunner().invoke(
            cli_app, args, env={"LABELHOUSE_DATABASE_URL": url, "COLUMNS": "200"}
        )
    finally:
        guard.cancel()
    said = (result.stdout + result.stderr).strip()
    wrong = []
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        wrong.append(f"raised {type(result.exception).__name__}: {result.exception}")
    if "Traceback" in result.output:
        wrong.append("printed a traceback")
    if result.exit_code == 0:
        wrong.append("exited with status 0")
    if not said:
        wrong.append("said nothing")
    if BUG_SENTENCE in said:
        wrong.append("reached the last-resort handler")
    if not wrong:
        return None
    last = said.splitlines()[-1] if said else ""
    return f"({' '.join(args)}): {', '.join(wrong)}; last line: {last}"


def _with_data_dir(command: Any, args: list[str], data: Path) -> list[str]:
    if "--data-dir" in args or not any(p.name == "data_dir" for p in command.params):
        return args
    return [*args, "--data-dir", str(data)]


@pytest.mark.parametrize("words", CASES)
def test_bad_arguments_end_in_a_sentence(words, db_url, data, files):
    command = dict(leaf_commands())[words]
    problems, ran = [], 0
    for what, args in variants(words, command, files):
        ran += 1
        wrong = attempt(words, _with_data_dir(command, args, data), db_url)
        if wrong:
            problems.append(f"{what} {wrong}")
    assert ran > 0, "no bad argument for this command"
    assert not problems, "\n".join(problems).replace(str(files.root.parent), "TMP")


@pytest.mark.parametrize("words", URL_CASES)
def test_a_database_url_that_cannot_work_ends_in_a_sentence(words, tmp_path, files):
    """Nothing is read from a database here, so once is enough (no backend parameter)."""
    command = dict(leaf_commands())[words]
    problems = []
    for what, url in BAD_URLS.items():
        args = _with_data_dir(command, command_line(words, command, files), tmp_path / "cli-data")
        wrong = attempt(words, args, url)
        if wrong:
            problems.append(f"the database URL names {what} {wrong}")
    assert not problems, "\n".join(problems).replace(str(files.root.parent), "TMP")
