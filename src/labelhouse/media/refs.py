"""Media references in task data: an uploaded file's name, or a URL of one of our forms."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
# Anything that starts like "scheme://" is a URL, not an uploaded file's name.
_URL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]{0,20}://")
# S3 bucket names (the rules AWS enforces, loosely: 3-63 of a-z 0-9 . -).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


@dataclass(frozen=True, slots=True)
class RemoteRef:
    """A media URL from task data. ``host`` is the web host, or the bucket for s3://."""

    url: str
    scheme: str  # "https", "http" or "s3"
    host: str
    key: str = ""  # the object key, for s3://

    @property
    def in_bucket(self) -> bool:
        return self.scheme == "s3"


def is_url(value: object) -> bool:
    """Whether task data names media by URL (of any scheme) rather than by file name."""
    return isinstance(value, str) and bool(_URL_LIKE.match(value))


def parse_ref(value: str) -> RemoteRef | str:
    """The reference, or a phrase saying what is wrong with it (syntax only: whether it may
    be reached is :class:`labelhouse.media.sources.MediaSources`' question)."""
    if len(value) > MAX_URL_LENGTH:
        return f"the URL is longer than {MAX_URL_LENGTH} characters"
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        return "the URL holds spaces or control characters (percent-encode them)"
    scheme = value.split("://", 1)[0].lower()
    if scheme == "s3":
        bucket, _, key = value[5:].partition("/")
        if not _BUCKET.match(bucket):
            return f"'{bucket}' is not an S3 bucket name; write s3://bucket/key"
        if not key or key.endswith("/"):
            return "the s3:// URL names no object; write s3://bucket/key"
        return RemoteRef(value, "s3", bucket, key)
    if scheme not in ("https", "http"):
        return f"{scheme}:// URLs are not supported; use https:// or s3://bucket/key"
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018  # raises for a port that is not a number
    except ValueError:
        return "the URL is not valid"
    if not host:
        return "the URL names no host"
    return RemoteRef(value, scheme, host)
