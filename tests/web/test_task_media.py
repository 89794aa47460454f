"""Media by URL through the app: import checks and sizes, GET /api/tasks/{id}/media/{key}
under the task's access rule, presigned redirects for the lab's bucket (moto), the page CSP.

A real server on 127.0.0.1 (allow-listed, plain http allowed) stands for the web; moto's
server for the lab's bucket. SQLite always, PostgreSQL when configured."""

from __future__ import annotations

import os
import urllib.request
import uuid
from collections.abc import Iterator

import boto3
import pytest

from labelhouse.media.sources import MediaSources
from labelhouse.net.addresses import AddressPolicy, parse_networks
from labelhouse.net.safe_fetch import FetchPolicy, SafeFetcher
from labelhouse.storage import LocalStorage
from labelhouse.web.app import create_app
from tests.factories import add_member, jsonl, login, make_org, make_project
from tests.helpers_data import BOXES_SCHEMA, png_bytes
from tests.media_server import PNG, MediaServer, media_server, send
from tests.storage.conftest import CREDENTIALS

S3_PNG = png_bytes(50, 40)


@pytest.fixture(scope="module")
def web() -> Iterator[MediaServer]:
    with media_server("127.0.0.1") as s:
        yield s


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on loopback (as tests/storage/conftest.py runs it)."""
    moto_server = pytest.importorskip("moto.server")
    for name, value in CREDENTIALS.items():
        os.environ.setdefault(name, value)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint) -> str:
    name = f"lh-media-{uuid.uuid4().hex[:16]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture
def media(s3_endpoint, bucket) -> MediaSources:
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").put_object(
        Bucket=bucket, Key="cats/1.png", Body=S3_PNG, ContentType="image/png"
    )
    policy = FetchPolicy(addresses=AddressPolicy(parse_networks("127.0.0.1/32")), allow_http=True)
    return MediaSources(
        SafeFetcher(policy),
        buckets=frozenset({bucket}),
        s3_options={"endpoint_url": s3_endpoint, "region": "us-east-1", "path_style": True},
        url_seconds=120,
    )


@pytest.fixture
def media_app(settings, db, media):
    return create_app(
        settings, database=db, storage=LocalStorage(settings.resolved_storage_dir), media=media
    )


def imported(app, db, rows):
    owner = make_org(db)
    first, second = add_member(db, owner), add_member(db, owner)
    pid = make_project(db, owner, schema=BOXES_SCHEMA)
    api = login(app, owner)
    r = api.post(f"/api/projects/{pid}/import", params={"format": "jsonl"}, content=jsonl(rows))
    return owner, first, second, pid, api, r


def test_an_annotator_sees_a_web_image_through_the_task_and_nobody_else(media_app, db, web):
    url = web.url("/img.png")
    _owner, first, second, pid, api, r = imported(media_app, db, [{"image": url}])
    assert r.status_code == 200, r.text
    a = login(media_app, first)
    task = a.post(f"/api/projects/{pid}/next").json()["task"]
    assert (task["data"]["image_width"], task["data"]["image_height"]) == (37, 21)
    route = f"/api/tasks/{task['id']}/media/image"
    assert task["media"] == {url: route}  # the browser is never given the third-party URL

    got = a.get(route)
    assert got.status_code == 200
    assert got.content == PNG
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert got.headers["x-content-type-options"] == "nosniff"

    assert login(media_app, second).get(route).status_code == 404  # not their task
    assert api.get(route).status_code == 200  # the owner sees the whole project
    assert a.get(f"/api/tasks/{task['id']}/media/text").status_code == 404  # not a media key
    assert a.get(f"/api/tasks/{task['id']}/media/objects").status_code == 404


def test_a_failing_web_image_is_a_502_naming_the_host(media_app, db, web):
    web.routes["/flaky.png"] = lambda h: send(h, 200, PNG, content_type="image/png")
    url = web.url("/flaky.png")
    _owner, first, _, pid, _api, r = imported(
        media_app, db, [{"image": url, "image_width": 37, "image_height": 21}]
    )
    assert r.status_code == 200, r.text
    a = login(media_app, first)
    task_id = a.post(f"/api/projects/{pid}/next").json()["task"]["id"]
    web.routes["/flaky.png"] = lambda h: send(h, 200, b"<html>", content_type="text/html")
    got = a.get(f"/api/tasks/{task_id}/media/image")
    assert got.status_code == 502
    error = got.json()["error"]
    assert error["code"] == "fetch_failed"
    assert error["message"].startswith("Could not fetch media from 127.0.0.1: it sent text/html")


def test_the_labs_bucket_is_served_by_a_short_lived_presigned_redirect(
    media_app,
    db,
    s3_endpoint,
    bucket,
):
    ref = f"s3://{bucket}/cats/1.png"
    _owner, first, second, pid, _api, r = imported(media_app, db, [{"image": ref}])
    assert r.status_code == 200, r.text
    a = login(media_app, first)
    task = a.post(f"/api/projects/{pid}/next").json()["task"]
    assert (task["data"]["image_width"], task["data"]["image_height"]) == (50, 40)
    route = task["media"][ref]

    moved = a.get(route, follow_redirects=False)
    assert moved.status_code == 302
    assert moved.headers["cache-control"] == "no-store"
    location = moved.headers["location"]
    assert location.startswith(f"{s3_endpoint}/{bucket}/cats/1.png?")
    assert "X-Amz-Expires=120" in location
    with urllib.request.urlopen(location) as answer:  # what the browser then loads
        assert answer.read() == S3_PNG

    assert login(media_app, second).get(route, follow_redirects=False).status_code == 404
    # The pages let images come from the bucket's origin, and from no other.
    page = a.get(f"/projects/{pid}/annotate")
    assert f"img-src 'self' data: blob: {s3_endpoint};" in page.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("https://10.0.0.1/x.png", "10.0.0.1 is a private address"),
        ("https://[::ffff:127.0.0.2]/x.png", "embeds the IPv4 address 127.0.0.2"),
        ("ftp://example.org/x.png", "ftp:// URLs are not supported"),
        ("s3://someone-elses-bucket/x.png", "is not one of the lab's media buckets"),
        ("s3://Bad_Bucket/x.png", "is not an S3 bucket name"),
        ("https://exa mple.org/x.png", "spaces or control characters"),
    ],
)
def test_unusable_urls_are_row_problems_at_import(media_app, db, value, problem):
    *_, r = imported(media_app, db, [{"image": value}])
    assert r.status_code == 422
    detail = r.json()["error"]["details"][0]["problem"]
    assert detail.startswith("'image'") and problem in detail


def test_an_image_that_cannot_be_read_at_import_is_a_row_problem(media_app, db, web, bucket):
    web.routes["/gone.png"] = lambda h: send(h, 404, b"", content_type="text/plain")
    rows = [{"image": web.url("/gone.png")}, {"image": f"s3://{bucket}/cats/missing.png"}]
    *_, r = imported(media_app, db, rows)
    assert r.status_code == 422
    problems = [d["problem"] for d in r.json()["error"]["details"]]
    assert any("the server answered 404" in p and "give image_width" in p for p in problems)
    assert any("the bucket has no object 'cats/missing.png'" in p for p in problems)


def test_rows_that_give_their_size_are_not_fetched_at_import(media_app, db, web):
    before = len(web.hosts_seen)
    rows = [{"image": web.url("/never.png"), "image_width": 5, "image_height": 6}]
    *_, r = imported(media_app, db, rows)
    assert r.status_code == 200, r.text
    assert len(web.hosts_seen) == before


def test_a_url_under_a_key_hidden_from_vendors_stays_hidden(media_app, db, web):
    """The outside policy holds for media by URL as for uploaded files: a vendor's person
    gets the image their task shows, and a 404 for one under a hidden key."""
    from labelhouse.accounts.models import Role
    from tests.web.test_outside_policy import make_vendor

    schema = {
        "fields": [
            {"name": "objects", "kind": "boxes", "image": "image", "labels": [{"value": "a"}]},
            {"name": "parts", "kind": "boxes", "image": "closeup", "labels": [{"value": "b"}]},
        ]
    }
    owner = make_org(db)
    pid = make_project(db, owner, schema=schema, overlap=1)
    lab = login(media_app, owner)
    row = {"image": web.url("/img.png"), "closeup": web.url("/img.png?closeup")}
    row |= {"image_width": 37, "image_height": 21}
    r = lab.post(f"/api/projects/{pid}/import", params={"format": "jsonl"}, content=jsonl([row]))
    assert r.status_code == 200, r.text
    vendor = add_member(db, owner, Role.annotator, join_projects=False)
    make_vendor(db, owner, pid, "Vendor", vendor)
    policy = lab.put(f"/api/projects/{pid}/outside-policy", json={"hidden_keys": ["closeup"]})
    assert policy.status_code == 200, policy.text

    v = login(media_app, vendor)
    task = v.post(f"/api/projects/{pid}/next").json()["task"]
    assert "closeup" not in task["data"]
    assert list(task["media"].values()) == [f"/api/tasks/{task['id']}/media/image"]
    assert v.get(f"/api/tasks/{task['id']}/media/image").status_code == 200
    assert v.get(f"/api/tasks/{task['id']}/media/closeup").status_code == 404
    assert lab.get(f"/api/tasks/{task['id']}/media/closeup").status_code == 200
