"""``labelhouse audit keygen|checkpoint|verify`` and ``labelhouse audit-verify``: signed
checkpoints that anchor the audit chain outside the database (docs/audit.md).

Results go to standard output (the public key, checkpoint lines, one verdict line per
organization); diagnostics to standard error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from labelhouse.cli.app import App
from labelhouse.cli.common import (
    DataDir,
    console,
    damaged_database,
    fail,
    open_db,
    settings_for,
)
from labelhouse.errors import LabelhouseError

if TYPE_CHECKING:
    from labelhouse.audit.checkpoints import PeriodicCheckpoints
    from labelhouse.config import Settings

audit_app = App(
    help="Signed checkpoints of the audit log (see docs/audit.md).", no_args_is_help=True
)


@audit_app.command("keygen")
def keygen(
    private_key_path: Path = typer.Argument(
        ..., help="Where to write the new Ed25519 private key (PEM, mode 0600; never overwritten)"
    ),
) -> None:
    """Make a key pair for signing audit checkpoints.

    The private key goes to the file, the public key (PEM) to standard output — keep it
    apart from the server, verification needs only it."""
    from labelhouse.audit import keys

    try:
        public = keys.generate_key_file(private_key_path)
    except LabelhouseError as exc:
        raise fail(exc) from None
    typer.echo(keys.public_pem(public), nl=False)
    console.print(
        f"Wrote the private key to {private_key_path} (key id {keys.key_id(public)}). "
        "Give it to the server as LABELHOUSE_AUDIT_SIGNING_KEY; keep it off the database's "
        "host if you can, and never in the database's backups.",
        soft_wrap=True,
    )


def _signing_key(settings: Settings, key: Path | None) -> Path:
    path = key or settings.audit_signing_key
    if path is None:
        console.print(
            "[bold red]Error:[/] no signing key: pass --key or set LABELHOUSE_AUDIT_SIGNING_KEY "
            "(make one with `labelhouse audit keygen PATH`)."
        )
        raise typer.Exit(2)
    return path


@audit_app.command("checkpoint")
def checkpoint(
    key: Path | None = typer.Option(
        None, "--key", help="Private key file (default: LABELHOUSE_AUDIT_SIGNING_KEY)"
    ),
    output: str | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Checkpoint file to append to, or - for standard output (default: "
        "LABELHOUSE_AUDIT_CHECKPOINT_FILE)",
    ),
    data_dir: Path | None = DataDir,
) -> None:
    """Sign the head of every organization's audit chain (run it from cron).

    Appending to a file skips organizations whose head has not moved since their last
    checkpoint there; with ``-o -`` every head is written to standard output, for any log
    shipper."""
    from labelhouse.audit import checkpoints, keys

    settings = settings_for(data_dir)
    target = output or (
        str(settings.audit_checkpoint_file) if settings.audit_checkpoint_file else None
    )
    if target is None:
        console.print(
            "[bold red]Error:[/] nowhere to write: pass --output FILE (or - for standard "
            "output) or set LABELHOUSE_AUDIT_CHECKPOINT_FILE."
        )
        raise typer.Exit(2)
    db = None
    try:
        private = keys.load_private_key(_signing_key(settings, key))
        db = open_db(settings)
        with db.read_session() as s:
            if target == "-":
                written = checkpoints.checkpoints_now(s, private)
                sys.stdout.buffer.write(b"".join(cp.line() for cp in written))
                sys.stdout.flush()
            else:
                written = checkpoints.CheckpointFile(Path(target), private.public_key()).write(
                    s, private
                )
    except LabelhouseError as exc:
        raise fail(exc) from None
    except OSError as exc:
        console.print(f"[bold red]Error:[/] cannot write {target}: {exc.strerror or exc}")
        raise typer.Exit(1) from None
    finally:
        if db is not None:
            db.dispose()
    for cp in written:
        console.print(
            f"organization {cp.organization_id}: signed {cp.events} events up to event {cp.head_id}"
        )
    if not written:
        console.print("Nothing new to sign: every head is in a checkpoint already.")


def verify(
    checkpoints_file: Path | None = typer.Option(
        None,
        "--checkpoints",
        help="Signed checkpoint file to check the database against (JSONL)",
        dir_okay=False,
    ),
    public_key: list[Path] = typer.Option(
        [],
        "--public-key",
        help="Public key file (PEM) the checkpoints were signed with; repeat after a key change. "
        "Default: the public half of LABELHOUSE_AUDIT_SIGNING_KEY",
    ),
    data_dir: Path | None = DataDir,
) -> None:
    """Check every organization's audit hash chain (and signed checkpoints).

    Checks every organization's audit hash chain; with --checkpoints, also that each
    signed checkpoint's head is still there, unchanged, after the same number of events
    (which catches deleted tails and recomputed chains up to the newest checkpoint)."""
    from sqlalchemy import select

    from labelhouse.accounts.models import Organization
    from labelhouse.audit import checkpoints, keys

    settings = settings_for(data_dir)
    reading = None
    if public_key and checkpoints_file is None:
        console.print(
            "[bold red]Error:[/] --public-key checks the signatures of --checkpoints FILE: give "
            "the checkpoint file too, or leave the key out."
        )
        raise typer.Exit(2)
    try:
        if checkpoints_file is not None:
            verifying = [keys.load_public_key(p) for p in public_key]
            if not verifying and settings.audit_signing_key is not None:
                verifying = [keys.load_public_key(settings.audit_signing_key)]
                console.print("Using the public half of LABELHOUSE_AUDIT_SIGNING_KEY.")
            if not verifying:
                console.print(
                    "[bold red]Error:[/] --checkpoints needs --public-key (the key printed by "
                    "`labelhouse audit keygen`)."
                )
                raise typer.Exit(2)
            reading = checkpoints.read_file(checkpoints_file, verifying)
    except LabelhouseError as exc:
        raise fail(exc) from None
    from sqlalchemy.exc import DBAPIError

    db = open_db(settings)
    failed = False
    try:
        with db.read_session() as s:
            orgs = set(s.scalars(select(Organization.id)))
            orgs |= reading.organizations if reading else set()
            for org in sorted(orgs):
                signed = reading.for_organization(org) if reading else []
                report = checkpoints.verify_organization(s, org, signed)
                failed |= not report.intact
                if report.first_broken_id is not None:
                    status = f"broken at event {report.first_broken_id}"
                elif report.problems:
                    status = "does not match its signed checkpoints"
                else:
                    status = "intact"
                extra = f", {report.checkpoints_checked} checkpoints" if reading else ""
                typer.echo(f"organization {org}: {report.events} events{extra}, {status}")
                for problem in report.problems:
                    typer.echo(f"  {problem}")
    except DBAPIError as exc:
        raise damaged_database(exc, settings) from None
    finally:
        db.dispose()
    if reading is not None:
        for problem in reading.problems:
            typer.echo(f"checkpoint file: {problem}")
        failed |= bool(reading.problems)
        if not reading.checkpoints:
            console.print(f"{checkpoints_file} holds no checkpoint signed with the given keys.")
    if reading is None:
        console.print(
            "Checked the hash links only: someone who can write the database can recompute "
            "them. Pass --checkpoints FILE --public-key KEY to check against signed "
            "checkpoints (docs/audit.md)."
        )
    console.print(
        "This verifies the audit log only: `labelhouse db check --deep` looks for damaged "
        "pages and checks the work queue's counters."
    )
    if failed:
        raise typer.Exit(1)


audit_app.command("verify")(verify)


def start_checkpoints(settings: Settings) -> PeriodicCheckpoints | None:
    """For ``serve``: a background thread signing checkpoints every
    LABELHOUSE_AUDIT_CHECKPOINT_MINUTES, when a key and a file are configured."""
    if settings.audit_signing_key is None or settings.audit_checkpoint_file is None:
        return None
    from labelhouse.audit import checkpoints, keys
    from labelhouse.db.engine import DatabaseOptions, open_database

    key = keys.load_private_key(settings.audit_signing_key)
    # reading the whole log may outlast a web request's statement timeout
    db = open_database(settings.resolved_database_url, DatabaseOptions.long(settings))
    periodic = checkpoints.PeriodicCheckpoints(
        db.read_session, key, settings.audit_checkpoint_file, settings.audit_checkpoint_minutes * 60
    )
    console.print(
        f"Signing audit checkpoints to {settings.audit_checkpoint_file} every "
        f"{settings.audit_checkpoint_minutes:g} minutes."
    )
    return periodic.start()
