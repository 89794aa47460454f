"""A page of tasks resolves the uploaded images it refers to (one lookup for the page)."""

from sqlalchemy import event

from tests.factories import add_tasks, login, make_org, make_project
from tests.helpers_data import BOXES_SCHEMA, png_bytes


def test_task_list_media_urls_resolved_with_one_query(app, db):
    owner = make_org(db)
    pid = make_project(db, owner, schema=BOXES_SCHEMA)
    c = login(app, owner)
    files = [("files", (f"img{i}.png", png_bytes(), "image/png")) for i in range(3)]
    uploaded = c.post(f"/api/projects/{pid}/files", files=files).json()["items"]
    urls = {f["name"]: f["url"] for f in uploaded}
    add_tasks(db, owner, pid, [{"image": f"img{i}.png"} for i in range(3)])

    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if "stored_file" in statement:
            statements.append(statement)

    event.listen(db.read_engine, "before_cursor_execute", count)
    try:
        items = c.get(f"/api/projects/{pid}/tasks").json()["items"]
    finally:
        event.remove(db.read_engine, "before_cursor_execute", count)
    assert [it["media"] for it in items] == [{f"img{i}.png": urls[f"img{i}.png"]} for i in range(3)]
    assert len(statements) == 1
