"""The Label Studio migration over HTTP: POST /api/label-studio/import (multipart) and
GET /api/projects/{id}/label-studio/config, next to the label_studio export format."""

from __future__ import annotations

import io
from typing import Any

from labelhouse.interop.label_studio.config import parse_config
from labelhouse.interop.label_studio.reader import ReadReport, read_export
from tests.factories import Member, login, token_client
from tests.interop.label_studio.fixtures import FIXTURES, config_text, conversion, export_path, read


def post_migration(client: Any, name: str, project: str, **extra: Any) -> Any:
    files = [
        ("export", (f"{name}.export.json", export_path(name).read_bytes(), "application/json")),
        ("config", (f"{name}.config.xml", config_text(name).encode(), "application/xml")),
    ]
    if name == "boxes":
        files += [
            ("files", (p.name, p.read_bytes(), "image/png")) for p in (FIXTURES / "media").iterdir()
        ]
    return client.post("/api/label-studio/import", data={"project": project, **extra}, files=files)


def test_a_label_studio_project_comes_in_and_goes_out(app: Any, db: Any, owner: Member) -> None:
    client = token_client(app, db, owner)
    r = post_migration(client, "boxes", "street scenes")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["tasks"]["created"] == 2 and body["media_uploaded"] == 2
    assert body["predictions"] == 1 and body["answers_read"] == 3
    project_id = body["project_id"]
    xml = client.get(f"/api/projects/{project_id}/label-studio/config")
    assert xml.status_code == 200
    assert xml.headers["content-type"].startswith("application/xml")
    assert parse_config(xml.text).document == conversion("boxes").document
    exported = client.get(f"/api/projects/{project_id}/export", params={"format": "label_studio"})
    assert exported.status_code == 200
    again = list(read_export(io.BytesIO(exported.content), parse_config(xml.text), ReadReport()))
    rows, _ = read("boxes")
    assert [t.task.get("predictions") for t in again] == [r.task.get("predictions") for r in rows]
    bad = client.get(
        f"/api/projects/{project_id}/export", params={"format": "label_studio", "annotators": "x"}
    )
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "annotators"


def test_what_is_not_carried_over_is_listed_or_refused(app: Any, db: Any, owner: Member) -> None:
    client = login(app, owner)  # a cookie session, sending its CSRF token
    r = post_migration(client, "classification", "reviews")
    assert r.status_code == 201, r.text
    assert "1 skipped (cancelled) answers were not carried over" in r.json()["warnings"]
    strict = post_migration(client, "classification", "reviews, strictly", strict="true")
    assert strict.status_code == 422
    assert "cancelled" in strict.json()["error"]["details"][0]["problem"]


def test_an_incomplete_form_names_the_missing_parts(app: Any, db: Any, owner: Member) -> None:
    client = token_client(app, db, owner)
    r = client.post("/api/label-studio/import", data={"project": " "}, files={"x": ("x", b"")})
    assert r.status_code == 422
    assert {d["field"] for d in r.json()["error"]["details"]} == {"export", "config", "project"}


def test_hostile_config_is_a_422_with_a_sentence(app: Any, db: Any, owner: Member) -> None:
    client = token_client(app, db, owner)
    evil = '<!DOCTYPE v [<!ENTITY x SYSTEM "file:///etc/passwd">]><View>&x;</View>'
    r = client.post(
        "/api/label-studio/import",
        data={"project": "evil", "config": evil},
        files={"export": ("e.json", b"[]", "application/json")},
    )
    assert r.status_code == 422
    assert "DTD or entities" in r.json()["error"]["message"]
