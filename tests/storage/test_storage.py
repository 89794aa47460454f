"""The storage backends, against the same contract: a local folder, and S3 through a real S3
API (moto's server over HTTP). Uploads and downloads through the app with S3 configured."""

from __future__ import annotations

import io
import os

import pytest

from labelhouse.config import Settings
from labelhouse.errors import InvalidInput
from labelhouse.storage import LocalStorage, StorageKeyError, open_storage
from labelhouse.web.app import create_app
from tests.factories import make_org, make_project, token_client
from tests.helpers_data import BOXES_SCHEMA, png_bytes


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "files")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("bucket")
    settings = Settings(
        data_dir=tmp_path,
        storage_url=f"s3://{bucket}/media",
        s3_endpoint_url=endpoint,
        s3_region="us-east-1",
        s3_path_style=True,
    )
    return open_storage(settings)


def test_put_then_read_back(storage):
    data = os.urandom(3 * 1024 * 1024 + 17)  # more than one read chunk
    assert storage.put("projects/1/abc.png", io.BytesIO(data)) == len(data)
    assert storage.exists("projects/1/abc.png")
    with storage.open("projects/1/abc.png") as f:
        assert f.read() == data
    assert b"".join(storage.iter_bytes("projects/1/abc.png", 65536)) == data
    storage.check()


def test_put_replaces_and_delete_removes(storage):
    storage.put("projects/1/x.png", io.BytesIO(b"first"))
    storage.put("projects/1/x.png", io.BytesIO(b"second"))
    assert b"".join(storage.iter_bytes("projects/1/x.png")) == b"second"
    storage.delete("projects/1/x.png")
    assert not storage.exists("projects/1/x.png")
    storage.delete("projects/1/x.png")  # deleting what is gone is fine


def test_missing_key_is_file_not_found(storage):
    assert not storage.exists("projects/9/none.png")
    with pytest.raises(FileNotFoundError):
        storage.open("projects/9/none.png")


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a/../../b", "UPPER", "a//b", ""])
def test_keys_are_validated(storage, key):
    with pytest.raises(StorageKeyError):
        storage.put(key, io.BytesIO(b"x"))


def test_s3_objects_live_under_the_prefix(s3_endpoint, bucket, tmp_path):
    import boto3

    settings = Settings(
        data_dir=tmp_path,
        storage_url=f"s3://{bucket}/lab-a/media/",
        s3_endpoint_url=s3_endpoint,
        s3_path_style=True,
    )
    open_storage(settings).put("projects/1/a.png", io.BytesIO(b"png"))
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["lab-a/media/projects/1/a.png"]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("gs://bucket", "use s3://bucket[/prefix]"),
        ("s3://", "no bucket"),
        ("s3://bucket/../up", "may hold only"),
    ],
)
def test_bad_storage_urls_name_the_setting(tmp_path, url, problem):
    with pytest.raises(InvalidInput) as exc:
        open_storage(Settings(data_dir=tmp_path, storage_url=url))
    assert exc.value.details[0].field == "LABELHOUSE_STORAGE_URL"
    assert problem in exc.value.details[0].problem


def test_a_missing_bucket_fails_the_start_up_check(s3_endpoint, tmp_path):
    storage = open_storage(
        Settings(
            data_dir=tmp_path,
            storage_url="s3://no-such-bucket-here",
            s3_endpoint_url=s3_endpoint,
            s3_path_style=True,
        )
    )
    with pytest.raises(InvalidInput, match="no-such-bucket-here"):
        storage.check()


def test_uploads_and_downloads_through_the_app_use_s3(db, settings, s3_endpoint, bucket, tmp_path):
    import boto3

    s3_settings = settings.model_copy(
        update={
            "storage_url": f"s3://{bucket}",
            "s3_endpoint_url": s3_endpoint,
            "s3_path_style": True,
            "storage_dir": tmp_path / "must-stay-empty",
        }
    )
    app = create_app(s3_settings, database=db)
    owner = make_org(db)
    pid = make_project(db, owner, schema=BOXES_SCHEMA)
    c = token_client(app, db, owner)
    image = png_bytes()
    r = c.post(f"/api/projects/{pid}/files", files={"files": ("cat.png", image, "image/png")})
    assert r.status_code == 201, r.text
    file_id = r.json()["items"][0]["id"]
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert len(keys) == 1 and keys[0].startswith(f"projects/{pid}/")
    r = c.get(f"/api/files/{file_id}")
    assert r.status_code == 200
    assert r.content == image
    # a second app server (another host, its own empty folder) serves the same file
    other = s3_settings.model_copy(update={"storage_dir": tmp_path / "other-host"})
    r = token_client(create_app(other, database=db), db, owner).get(f"/api/files/{file_id}")
    assert r.status_code == 200
    assert r.content == image
    assert not (tmp_path / "must-stay-empty").exists() or not any(
        (tmp_path / "must-stay-empty").iterdir()
    )


def test_serve_refuses_to_start_with_unusable_storage(s3_endpoint, tmp_path):
    from typer.testing import CliRunner

    from labelhouse.cli.main import app as cli_app

    result = CliRunner().invoke(
        cli_app,
        ["serve", "--data-dir", str(tmp_path)],
        env={
            "LABELHOUSE_STORAGE_URL": "s3://no-such-bucket-here",
            "LABELHOUSE_S3_ENDPOINT_URL": s3_endpoint,
            "LABELHOUSE_S3_PATH_STYLE": "true",
        },
    )
    assert result.exit_code == 1, result.output
    assert "Cannot use the S3 bucket 'no-such-bucket-here'" in result.output
    assert not (tmp_path / "labelhouse.db").exists()  # stopped before touching the database
