"""Where uploaded bytes live: a ``Storage`` protocol with a local-folder backend by default
and S3-compatible object storage when ``LABELHOUSE_STORAGE_URL`` is ``s3://bucket/prefix``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from labelhouse.errors import InvalidInput, Problem
from labelhouse.storage.base import Storage, StorageKeyError
from labelhouse.storage.local import LocalStorage

if TYPE_CHECKING:
    from labelhouse.config import Settings


def open_storage(settings: Settings) -> Storage:
    """The storage the settings name (boto3 is imported only for S3)."""
    url = settings.storage_url
    if not url:
        return LocalStorage(settings.resolved_storage_dir)
    if url.startswith("s3://"):
        from labelhouse.storage.s3 import S3Storage

        return S3Storage.from_url(
            url,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            path_style=settings.s3_path_style,
        )
    problem = "use s3://bucket[/prefix], or leave it unset for the local folder"
    raise InvalidInput(
        f"LABELHOUSE_STORAGE_URL {url!r} is not supported: {problem}.",
        [Problem("LABELHOUSE_STORAGE_URL", problem)],
    )


__all__ = ["LocalStorage", "Storage", "StorageKeyError", "open_storage"]
