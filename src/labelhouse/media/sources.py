"""Reaching media named by URL: the lab's own buckets and the SSRF-safe fetcher.

The serving model (docs/deployment.md, "Media by URL"):

- ``s3://bucket/key`` in one of the lab's own buckets (the S3 storage's bucket, and those in
  ``LABELHOUSE_MEDIA_BUCKETS``): the browser is sent, after the task's access check, to a
  presigned GET URL that lives ``LABELHOUSE_MEDIA_URL_SECONDS`` (5 minutes). Any other
  bucket is refused at import: Labelhouse holds credentials for its own buckets only.
- ``https://…`` (``http://`` if allowed): fetched by the server through
  :class:`~labelhouse.net.safe_fetch.SafeFetcher` and passed on under the same access
  check, so annotators' browsers never load third-party URLs (privacy, and the CSP stays
  ``img-src 'self'`` plus the lab's bucket origins).

Image sizes are read from the first bytes (Pillow parses only the header).
"""

from __future__ import annotations

import io
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from labelhouse.errors import FetchFailed, FetchRefused
from labelhouse.media.refs import RemoteRef, parse_ref
from labelhouse.net.safe_fetch import IMAGE_TYPES, Fetched, FetchPolicy, SafeFetcher

if TYPE_CHECKING:
    from labelhouse.config import Settings

# Bytes read to find an image's size: most headers fit the first; a JPEG with a large EXIF
# block before its frame header needs the second.
HEAD_BYTES = (64 * 1024, 1024 * 1024)


class MediaSources:
    """One per process (``app.state.media``; the CLI makes its own), thread-safe."""

    def __init__(
        self,
        fetcher: SafeFetcher | None = None,
        *,
        buckets: frozenset[str] = frozenset(),
        s3_options: dict[str, Any] | None = None,
        url_seconds: int = 300,
    ) -> None:
        self.fetcher = fetcher or SafeFetcher()
        self.buckets = buckets
        self.s3_options = s3_options or {}
        self.url_seconds = url_seconds
        self._s3: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaSources:
        buckets = {b.strip() for b in settings.media_buckets.split(",") if b.strip()}
        if settings.storage_url and settings.storage_url.startswith("s3://"):
            buckets.add(settings.storage_url[5:].split("/", 1)[0])
        return cls(
            SafeFetcher(FetchPolicy.from_settings(settings)),
            buckets=frozenset(buckets),
            s3_options={
                "endpoint_url": settings.s3_endpoint_url,
                "region": settings.s3_region,
                "path_style": settings.s3_path_style,
            },
            url_seconds=settings.media_url_seconds,
        )

    # -- import-time checks ------------------------------------------------------------
    def check(self, value: str) -> RemoteRef | str:
        """The reference if it may be used, else a phrase for the row's problem: its
        syntax, its scheme, a bucket that is not the lab's, a literal address refused."""
        ref = parse_ref(value)
        if isinstance(ref, str):
            return ref
        if ref.in_bucket:
            if ref.host not in self.buckets:
                known = ", ".join(sorted(self.buckets)) or "none are configured"
                return (
                    f"the bucket '{ref.host}' is not one of the lab's media buckets ({known}); "
                    "an administrator lists them in LABELHOUSE_MEDIA_BUCKETS"
                )
            return ref
        try:
            self.fetcher.check_url(ref.url)
        except FetchRefused as refused:
            return refused.reason
        return ref

    def image_size(self, ref: RemoteRef) -> tuple[int, int]:
        """Width and height from the image's first bytes (a bounded read)."""
        from PIL import Image, UnidentifiedImageError

        for n in HEAD_BYTES:
            head = self._head(ref, n)
            try:
                with Image.open(io.BytesIO(head)) as image:
                    return image.size
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
                if len(head) < n:  # the whole file, and still not an image
                    break
        raise FetchFailed(ref.host, "it is not an image Pillow can read")

    def _head(self, ref: RemoteRef, n: int) -> bytes:
        if not ref.in_bucket:
            return self.fetcher.head(ref.url, n, accept=IMAGE_TYPES)
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.s3().get_object(Bucket=ref.host, Key=ref.key, Range=f"bytes=0-{n - 1}")
            return answer["Body"].read(n)  # type: ignore[no-any-return]
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise FetchFailed(ref.host, f"the bucket has no object '{ref.key}'") from None
            raise FetchFailed(ref.host, f"the bucket answered {code or 'an error'}") from None
        except BotoCoreError as error:
            raise FetchFailed(ref.host, f"the bucket could not be reached ({error})") from None

    # -- serving -----------------------------------------------------------------------
    def presigned_url(self, ref: RemoteRef) -> str:
        """A GET URL for an object in one of the lab's buckets, valid ``url_seconds``."""
        if ref.host not in self.buckets:
            raise FetchRefused(ref.host, "it is not one of the lab's media buckets")
        return str(
            self.s3().generate_presigned_url(
                "get_object",
                Params={"Bucket": ref.host, "Key": ref.key},
                ExpiresIn=self.url_seconds,
            )
        )

    def open(self, ref: RemoteRef) -> Fetched:
        """An image from the web, being read through the safe client (close it)."""
        return self.fetcher.open(ref.url, accept=IMAGE_TYPES)

    def image_origins(self) -> list[str]:
        """Origins the browser loads presigned bucket URLs from (the page CSP's img-src)."""
        origins: list[str] = []
        for bucket in sorted(self.buckets):
            try:
                url = self.s3().generate_presigned_url(
                    "get_object", Params={"Bucket": bucket, "Key": "x"}, ExpiresIn=60
                )
            except Exception:  # noqa: S112  # no credentials yet: nothing to allow
                continue
            parts = urlsplit(url)
            origin = f"{parts.scheme}://{parts.netloc}"
            if origin not in origins:
                origins.append(origin)
        return origins

    def s3(self) -> Any:
        """The boto3 client for the lab's buckets (the storage's S3 settings)."""
        with self._lock:
            if self._s3 is None:
                try:
                    import boto3
                    from botocore.config import Config
                except ImportError:
                    raise FetchRefused(
                        "s3", "s3:// media need boto3: pip install 'labelhouse[s3]'"
                    ) from None
                options = self.s3_options
                config = Config(
                    s3={"addressing_style": "path" if options.get("path_style") else "auto"},
                    signature_version="s3v4",
                    retries={"mode": "standard", "max_attempts": 2},
                    connect_timeout=5,
                    read_timeout=10,
                )
                self._s3 = boto3.client(
                    "s3",
                    endpoint_url=options.get("endpoint_url"),
                    region_name=options.get("region"),
                    config=config,
                )
            return self._s3

    def close(self) -> None:
        self.fetcher.close()
