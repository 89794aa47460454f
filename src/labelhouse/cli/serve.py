"""``labelhouse serve``: prepare the database, take the port, and run the web app in one
process or under the supervisor of ``--workers N``."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from labelhouse.cli.audit import start_checkpoints
from labelhouse.cli.common import DataDir, console, fail, open_db, owner_actor, settings_for
from labelhouse.errors import LabelhouseError

if TYPE_CHECKING:
    from labelhouse.config import Settings
    from labelhouse.jobs.runtime import ConsumerThread


def serve(
    host: str = typer.Option(
        "127.0.0.1",
        help="Interface to listen on. The default takes connections from this machine only; "
        "--host 0.0.0.0 (or :: for IPv6) listens on every interface. Labelhouse speaks plain "
        "HTTP: do that only behind a TLS proxy (then set LABELHOUSE_SECURE_COOKIES=true) or "
        "on a network you trust, since passwords and session cookies cross it unencrypted",
    ),
    port: int = typer.Option(8080, min=0, max=65535, help="TCP port (0: any free one)"),
    demo: bool = typer.Option(False, "--demo", help="Load one demo project per field kind"),
    workers: int = typer.Option(
        1,
        min=1,
        help="App processes; on SQLite their writes take turns at a lock file (see README)",
    ),
    job_threads: int = typer.Option(
        1,
        "--job-threads",
        min=0,
        max=64,
        help="Background jobs (exports, snapshots) this server runs at once; 0 leaves them "
        "to `labelhouse jobs worker` processes",
    ),
    owner_email: str = typer.Option(
        "owner@example.com",
        envvar="LABELHOUSE_OWNER_EMAIL",
        help="The first owner's e-mail address, when the database has no account yet",
    ),
    data_dir: Path | None = DataDir,
) -> None:
    """Upgrade the database, create the first owner if needed, and serve the web app.

    The first start prints the owner's one-time password on standard output (everything
    else goes to standard error). It listens on 127.0.0.1 unless --host says otherwise."""
    from labelhouse.cli import supervisor
    from labelhouse.storage import open_storage

    settings = settings_for(data_dir)
    try:
        open_storage(settings).check()  # a wrong bucket or folder fails here, not per upload
        # Then the port: a second `serve` on it says so before touching the database.
        if workers == 1:
            sockets = [supervisor.take_port(host, port)]
        else:
            sockets = supervisor.worker_sockets(host, port, workers)
    except LabelhouseError as exc:
        raise fail(exc) from None
    try:
        try:
            _prepare(settings, owner_email=owner_email, demo=demo)
            os.environ["LABELHOUSE_DATA_DIR"] = str(settings.data_dir)
            # Each worker's pool takes its share of LABELHOUSE_DB_MAX_CONNECTIONS.
            os.environ["LABELHOUSE_WORKERS"] = str(workers)
            port = sockets[0].getsockname()[1]  # the one the system chose, for --port 0
            console.print(f"Labelhouse on [bold]http://{host}:{port}[/] (API docs at /api/docs)")
            # one checkpoint thread per `serve`, in the process that supervises the workers
            checkpointer = start_checkpoints(settings)
            # one job consumer per `serve` too, on threads of this process
            job_consumer = start_job_consumer(settings, job_threads)
        except LabelhouseError as exc:
            raise fail(exc) from None
        try:
            if workers == 1:
                _serve_here(sockets[0])
            elif supervisor.Supervisor(sockets, say=console.print).run() != 0:
                raise typer.Exit(1)
        finally:
            if job_consumer is not None:
                job_consumer.stop()
            if checkpointer is not None:
                checkpointer.stop()
    finally:
        for s in sockets:
            s.close()


def start_job_consumer(settings: Settings, threads: int) -> ConsumerThread | None:
    """The job consumer ``serve`` runs on ``threads`` threads (none for 0)."""
    if threads == 0:
        return None
    from labelhouse.jobs.runtime import ConsumerThread, Jobs

    return ConsumerThread(Jobs(settings), threads).start()


def _prepare(settings: Settings, *, owner_email: str, demo: bool) -> None:
    """Upgrade the database, create the owner and the demo projects."""
    from sqlalchemy import select

    from labelhouse.accounts import service as accounts
    from labelhouse.accounts.models import Organization
    from labelhouse.demo import load_demo
    from labelhouse.storage import open_storage
    from labelhouse.tasks.staged_import import clear_stale_imports

    db = open_db(settings)
    try:
        with db.session() as s:
            if not accounts.has_any_user(s):
                user, password = accounts.bootstrap_owner(
                    s, email=owner_email, organization_name="My lab"
                )
                console.print(
                    f"[bold green]Created the owner account[/] {escape(user.email)}; its "
                    "one-time password follows (on standard output). Log in with it and "
                    "choose your own password.",
                    soft_wrap=True,
                )
                typer.echo(password)
            if demo:
                org_id = s.scalars(select(Organization.id).order_by(Organization.id)).first()
                assert org_id is not None  # the owner above made one
                actor = owner_actor(s, org_id)
                made = load_demo(s, actor, open_storage(settings))
                if made:
                    console.print(f"Loaded {len(made)} demo projects.")
        # what an import killed part-way left out of sight on SQLite (running ones stay)
        cleared = clear_stale_imports(db)
        if cleared:
            console.print(f"Cleared away {cleared} unfinished import(s) of a stopped process.")
    finally:
        db.dispose()


def _serve_here(sock: socket.socket) -> None:
    """The single process: uvicorn on the socket already taken. Once uvicorn has shut down
    it re-raises the signal that stopped it; here that ends ``serve`` with status 0 and the
    caller's clean-up run, not a death by SIGTERM or click's "Aborted!"."""
    import uvicorn

    from labelhouse.cli.worker import STARTUP_FAILURE, uvicorn_config

    def stopped(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    previous = {sig: signal.signal(sig, stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server = uvicorn.Server(uvicorn_config())
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not server.started:
        raise typer.Exit(STARTUP_FAILURE)
