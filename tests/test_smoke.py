from tests.factories import add_tasks, login, make_org, make_project, text_rows


def test_login_next_submit_export(app, db):
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(3))
    c = login(app, owner)
    r = c.post(f"/api/projects/{pid}/next")
    assert r.status_code == 200, r.text
    task = r.json()["task"]
    r = c.post(f"/api/tasks/{task['id']}/annotations", json={"value": {"label": "pos"}})
    assert r.status_code == 200, r.text
    lines = c.get(f"/api/projects/{pid}/export?format=jsonl").text.splitlines()
    assert len(lines) == 3
