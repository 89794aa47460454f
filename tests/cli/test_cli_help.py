"""``--version`` and the help texts: every command and group says in one line what it does,
flags read as flags (not ``--demo <bool>``), and the options an operator gets wrong say
what they need to know. Commands are found in the Typer app, so a new one is covered."""

from __future__ import annotations

import inspect
import re
from importlib.metadata import version

import pytest
import typer.main
from typer.testing import CliRunner

from labelhouse.cli.app import Command, Group
from labelhouse.cli.main import app as cli_app

WIDE = {"COLUMNS": "200", "NO_COLOR": "1"}
# A group's listing shows the first paragraph of each command's help: one line of it.
MAX_SUMMARY = 100


def all_commands() -> list[tuple[tuple[str, ...], object]]:
    """(words, click command) for the root, every group and every command."""
    found = []

    def walk(command, words):
        found.append((words, command))
        for name, sub in (getattr(command, "commands", None) or {}).items():
            walk(sub, (*words, name))

    walk(typer.main.get_command(cli_app), ())
    return found


COMMANDS = all_commands()
IDS = [" ".join(words) or "root" for words, _ in COMMANDS]


def help_of(*words: str) -> str:
    result = CliRunner().invoke(cli_app, [*words, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_version_is_the_installed_packages():
    result = CliRunner().invoke(cli_app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"labelhouse {version('labelhouse')}\n"
    assert result.stderr == ""


@pytest.mark.parametrize(("words", "command"), COMMANDS, ids=IDS)
def test_every_command_has_a_one_line_help(words, command):
    """Shown beside its name in its group's listing (`projects --help` listed `list` and
    `create` with nothing after them)."""
    text = (command.help or "").strip()
    assert text, f"`labelhouse {' '.join(words)}` has no help text"
    first = " ".join(inspect.cleandoc(text).split("\n\n")[0].split())
    assert len(first) <= MAX_SUMMARY, f"make the first paragraph of its help short: {first}"
    if words:
        listing = help_of(*words[:-1])
        line = next(x for x in listing.splitlines() if re.search(rf"│ {words[-1]} ", x))
        first_words = " ".join(text.split()[:3])
        assert first_words in " ".join(line.split()), line


@pytest.mark.parametrize(("words", "command"), COMMANDS, ids=IDS)
def test_flags_show_no_value(words, command):
    assert isinstance(command, Group if getattr(command, "commands", None) else Command)
    assert "<bool>" not in help_of(*words)


def test_serve_help():
    text = " ".join(help_of("serve").split())
    assert "--demo Load one demo project per field kind" in text  # a flag, no <bool>
    assert "--host 0.0.0.0 (or :: for IPv6) listens on every interface" in text
    assert "behind a TLS proxy" in text and "LABELHOUSE_SECURE_COOKIES=true" in text


@pytest.mark.parametrize(("words", "command"), COMMANDS, ids=IDS)
def test_data_dir_names_the_database_url(words, command):
    if not any(p.name == "data_dir" for p in command.params):
        return
    text = " ".join(help_of(*words).split())
    assert "LABELHOUSE_DATABASE_URL" in text and "LABELHOUSE_DATA_DIR" in text
