"""Media sent along with a task file (``labelhouse import --files DIR``, or ``files`` parts of
an import request): only the files some row refers to are uploaded.

A folder of images often holds other things (a notes file, a thumbnail, images of another
batch); uploading everything made one unreadable file abort the whole import, and stored
images no task uses. So the task file is read once first, keeping only which of the offered
names its rows refer to (memory: the offered names), and the caller uploads those and names
the others.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Generic, TypeVar

from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role
from labelhouse.accounts.policy import Actor
from labelhouse.errors import InvalidInput
from labelhouse.projects.service import get_project, load_schema
from labelhouse.tasks.readers import read_rows
from labelhouse.tasks.service import safe_file_name

Source = TypeVar("Source")


@dataclass
class MediaPlan(Generic[Source]):
    """What to upload (by the name rows use: the stored, cleaned one) and what not."""

    upload: list[tuple[str, Source]] = field(default_factory=list)
    unreferenced: list[str] = field(default_factory=list)  # the offered names, sorted


def plan_media(
    session: Session,
    actor: Actor,
    project_id: int,
    offered: dict[str, Source],
    stream: BinaryIO,
    file_format: str,
) -> MediaPlan[Source]:
    """Split the ``offered`` files (original name → source) into those a row of the task
    file refers to and the rest. Reads ``stream`` to its end and seeks it back to the start;
    rows the import will refuse are simply not looked at here."""
    actor = actor.in_project(project_id)
    actor.require(Role.manager, "upload files")
    project = get_project(session, actor, project_id)
    media_keys = sorted({k for f in load_schema(session, project).fields for k in f.media_keys()})
    by_stored_name: dict[str, str] = {}
    for name in offered:
        with suppress(InvalidInput):  # a name that cleans to nothing cannot be referred to
            by_stored_name.setdefault(safe_file_name(name), name)
    referred = _referred_names(stream, file_format, media_keys, by_stored_name.keys())
    stream.seek(0)
    plan: MediaPlan[Source] = MediaPlan()
    uploaded = set()
    for stored in sorted(referred):
        name = by_stored_name[stored]
        plan.upload.append((stored, offered[name]))
        uploaded.add(name)
    plan.unreferenced = sorted(set(offered) - uploaded)
    return plan


def _referred_names(
    stream: BinaryIO, file_format: str, media_keys: list[str], names: Any
) -> set[str]:
    """Which of ``names`` a row's media key (flat or under ``data``) refers to."""
    found: set[str] = set()
    if not media_keys or not names:
        return found
    for _, row in read_rows(stream, file_format):
        if type(row) is not dict:
            continue
        data = row["data"] if type(row.get("data")) is dict else row
        for key in media_keys:
            ref = data.get(key)
            if type(ref) is str and ref in names:
                found.add(ref)
    return found


def unreferenced_sentence(names: list[str], where: str, *, shown: int = 20) -> str:
    """'2 files in DIR are not uploaded: no row refers to them: a.txt, b.png' (the first
    ``shown`` names)."""
    listed = ", ".join(names[:shown]) + (
        f" and {len(names) - shown} more" if len(names) > shown else ""
    )
    if len(names) == 1:
        return f"1 file in {where} is not uploaded: no row refers to it: {listed}"
    return f"{len(names)} files in {where} are not uploaded: no row refers to them: {listed}"
