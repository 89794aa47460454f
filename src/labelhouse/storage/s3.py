"""S3-compatible object storage (AWS S3, MinIO, Ceph, R2…) through boto3.

Several app servers on several hosts share uploaded media this way instead of a shared
folder. Keys are our own validated keys under an optional prefix; an object appears only
once its upload has completed (S3 PUT and multipart completion are atomic), which is the
same guarantee the local backend gets from a rename. Credentials come from boto3's usual
chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, a profile, an instance role):
Labelhouse never stores them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any, BinaryIO

from labelhouse.errors import InvalidInput, Problem
from labelhouse.storage.base import StorageKeyError, check_key

# The health check asks the bucket at most this often (a load balancer polls every few
# seconds) and gives it this long to answer.
HEALTH_CACHE_SECONDS = 10.0
HEALTH_TIMEOUT_SECONDS = 2.0


class S3Storage:
    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._health_lock = threading.Lock()
        self._health: tuple[float, bool] | None = None  # (when asked, answer)
        self._health_client: Any = None

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        path_style: bool = False,
    ) -> S3Storage:
        """``s3://bucket[/prefix]``; ``endpoint_url`` for S3-compatible servers, which
        usually also want ``path_style``."""
        try:
            import boto3
            from botocore.config import Config
        except ImportError:  # an optional dependency
            raise InvalidInput(
                "S3 storage needs boto3: pip install 'labelhouse[s3]'",
                [Problem("LABELHOUSE_STORAGE_URL", "boto3 is not installed")],
            ) from None
        bucket, prefix = parse_s3_url(url)
        config = Config(
            s3={"addressing_style": "path" if path_style else "auto"},
            signature_version="s3v4",
            retries={"mode": "standard"},
        )
        client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)
        return cls(client, bucket, prefix)

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, source: BinaryIO) -> int:
        counted = _Counting(source)
        # upload_fileobj switches to a multipart upload for large files; either way the
        # object is visible only when complete.
        self.client.upload_fileobj(counted, self.bucket, self._key(key))
        return counted.size

    def open(self, key: str) -> BinaryIO:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(key) from None
        return response["Body"]  # type: ignore[no-any-return]  # a readable stream

    def iter_bytes(self, key: str, chunk_size: int = 65536) -> Iterator[bytes]:
        body = self.open(key)
        try:
            yield from body.iter_chunks(chunk_size)  # type: ignore[attr-defined]
        finally:
            body.close()

    def iter_range(
        self, key: str, start: int, end: int, chunk_size: int = 65536
    ) -> Iterator[bytes]:
        """Bytes ``start`` to ``end`` inclusive, asked of S3 as a ranged GET (a resumed
        download of a large file reads only what is missing)."""
        try:
            response = self.client.get_object(
                Bucket=self.bucket, Key=self._key(key), Range=f"bytes={start}-{end}"
            )
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(key) from None
        body = response["Body"]
        try:
            yield from body.iter_chunks(chunk_size)
        finally:
            body.close()

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as error:
            raise InvalidInput(
                f"Cannot use the S3 bucket '{self.bucket}': {error}",
                [Problem("LABELHOUSE_STORAGE_URL", "bucket missing, unreachable or forbidden")],
            ) from None

    def healthy(self) -> bool:
        with self._health_lock:  # one poll at a time asks; the others take its answer
            now = time.monotonic()
            if self._health is None or now - self._health[0] >= HEALTH_CACHE_SECONDS:
                self._health = (now, self._ask_bucket())
            return self._health[1]

    def _ask_bucket(self) -> bool:
        try:
            if self._health_client is None:
                import boto3
                from botocore.config import Config

                meta = self.client.meta
                quick = Config(
                    connect_timeout=HEALTH_TIMEOUT_SECONDS,
                    read_timeout=HEALTH_TIMEOUT_SECONDS,
                    retries={"max_attempts": 1},
                )
                self._health_client = boto3.client(
                    "s3",
                    endpoint_url=meta.endpoint_url,
                    region_name=meta.region_name,
                    config=meta.config.merge(quick),
                )
            self._health_client.head_bucket(Bucket=self.bucket)
            return True
        except Exception:  # unreachable, missing, forbidden: all the same to a balancer
            return False


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` → (bucket, prefix); the prefix must itself be a valid key."""
    if not url.startswith("s3://"):
        raise _bad_url(f"not an s3:// URL: {url!r}")
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    prefix = prefix.strip("/")
    if not bucket:
        raise _bad_url(f"no bucket in {url!r}; write s3://bucket[/prefix]")
    if prefix:
        try:
            check_key(prefix)
        except StorageKeyError:
            raise _bad_url(f"the prefix in {url!r} may hold only a-z, 0-9, _, -, . and /") from None
    return bucket, prefix


def _bad_url(problem: str) -> InvalidInput:
    return InvalidInput(
        f"LABELHOUSE_STORAGE_URL: {problem}", [Problem("LABELHOUSE_STORAGE_URL", problem)]
    )


class _Counting:
    """A read-only stream that counts what was read (the size ``put`` reports)."""

    def __init__(self, source: BinaryIO) -> None:
        self.source = source
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.source.read(n)
        self.size += len(data)
        return data
