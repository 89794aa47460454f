"""The Typer classes every command group is built with: flags shown as flags in ``--help``,
and the last-resort handler that turns an error no command translated into one sentence.

Use :class:`App` instead of ``typer.Typer`` for a new group (``tests/cli/test_cli_help.py``
checks that every command is built by these classes).
"""

from __future__ import annotations

import os
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from labelhouse.errors import LabelhouseError

# Set (to anything but 0 or empty) to see the traceback of an unexpected error.
DEBUG_VARIABLE = "LABELHOUSE_DEBUG"
# What the last-resort handler says about an error nobody translated; tests look for it.
BUG_SENTENCE = "This is a bug in Labelhouse"


def _plain_flags(params: list[Any]) -> list[Any]:
    """Typer's rich help gives every option a type column, flags included (``--demo <bool>``
    suggests it takes a value): a flag's is left empty."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_flags(super().get_params(ctx))


class Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_flags(super().get_params(ctx))


class RootGroup(Group):
    """The ``labelhouse`` group: every command runs inside its :meth:`invoke`, so an error
    no command caught ends here, whether the command line came from the console script or
    from a test's ``CliRunner``."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # click's own: usage errors, exit statuses, Ctrl-C
        except Exception as exc:
            if _debugging():
                raise
            raise last_resort(exc) from None


def _debugging() -> bool:
    return os.environ.get(DEBUG_VARIABLE, "").strip() not in ("", "0")


def last_resort(exc: Exception) -> typer.Exit:
    """One sentence for an error that reached the command line's edge, and its exit status."""
    from rich.markup import escape

    from labelhouse.cli.common import console, fail

    if isinstance(exc, LabelhouseError):  # e.g. the database went away between two steps
        return fail(exc)
    if isinstance(exc, OSError) and exc.strerror:  # the system refused: disk full, permissions
        where = f": {exc.filename}" if exc.filename else ""
        console.print(f"[bold red]Error:[/] {escape(exc.strerror + where)}.", soft_wrap=True)
        return typer.Exit(code=1)
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    console.print(
        f"[bold red]Error:[/] unexpected {type(exc).__name__}"
        + (f" ({escape(first)})" if first else "")
        + f". {BUG_SENTENCE}: run the command again with {DEBUG_VARIABLE}=1 to see where it "
        "happened, and report it.",
        soft_wrap=True,
        highlight=False,
    )
    return typer.Exit(code=1)


class App(typer.Typer):
    """``typer.Typer`` whose groups and commands are the classes above."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", Group)
        kwargs.setdefault("no_args_is_help", True)
        super().__init__(**kwargs)

    def command(self, name: str | None = None, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", Command)
        return super().command(name, **kwargs)
