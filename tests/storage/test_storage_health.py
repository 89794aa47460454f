"""The storage part of the health check: cheap, and false when uploads could not be kept."""

from __future__ import annotations

import shutil

from labelhouse.config import Settings
from labelhouse.storage import LocalStorage, open_storage
from labelhouse.storage import s3 as s3_module


def test_a_local_folder_that_is_gone_is_unhealthy(tmp_path):
    storage = LocalStorage(tmp_path / "files")
    assert storage.healthy()
    shutil.rmtree(tmp_path / "files")
    assert not storage.healthy()


def test_s3_asks_the_bucket_and_remembers_the_answer_briefly(
    tmp_path, s3_endpoint, bucket, monkeypatch
):
    def for_bucket(name: str):
        return open_storage(
            Settings(
                data_dir=tmp_path,
                storage_url=f"s3://{name}/media",
                s3_endpoint_url=s3_endpoint,
                s3_region="us-east-1",
                s3_path_style=True,
            )
        )

    assert for_bucket(bucket).healthy()
    missing = for_bucket("no-such-bucket-here")
    assert not missing.healthy()
    monkeypatch.setattr(s3_module, "HEALTH_CACHE_SECONDS", 3600)
    cached = for_bucket(bucket)
    assert cached.healthy()
    cached.bucket = "no-such-bucket-here"  # not asked again within the cache time
    assert cached.healthy()
