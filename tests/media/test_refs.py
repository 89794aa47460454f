"""Media references in task data: file names vs URLs, and URL syntax (pure)."""

from __future__ import annotations

import pytest

from labelhouse.media.refs import RemoteRef, is_url, parse_ref
from labelhouse.media.sources import MediaSources


@pytest.mark.parametrize("name", ["cat.png", "photos/cat.png", "a:b.png", "", "https:/x"])
def test_file_names_are_not_urls(name):
    assert not is_url(name)


def test_the_three_forms():
    assert parse_ref("https://Images.Example.org:8443/a b".replace(" ", "%20")) == RemoteRef(
        "https://Images.Example.org:8443/a%20b", "https", "images.example.org"
    )
    assert parse_ref("s3://lab-media/street/1.jpg") == RemoteRef(
        "s3://lab-media/street/1.jpg", "s3", "lab-media", "street/1.jpg"
    )
    assert parse_ref("http://h/x").scheme == "http"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("ftp://example.org/x.png", "ftp:// URLs are not supported"),
        ("FILE:///etc/passwd", "file:// URLs are not supported"),
        ("https://exa mple.org/x", "spaces or control characters"),
        ("https://example.org/\x00", "spaces or control characters"),
        ("https:///x.png", "names no host"),
        ("https://example.org:99999999/x", "not valid"),
        ("s3://x/k", "not an S3 bucket name"),
        ("s3://lab-media", "names no object"),
        ("s3://lab-media/folder/", "names no object"),
        ("https://example.org/" + "a" * 2100, "longer than 2048"),
    ],
)
def test_bad_urls_say_what_is_wrong(value, problem):
    found = parse_ref(value)
    assert isinstance(found, str) and problem in found


def test_only_the_labs_buckets_are_usable():
    media = MediaSources(buckets=frozenset({"lab-media"}))
    assert isinstance(media.check("s3://lab-media/a.png"), RemoteRef)
    assert "not one of the lab's media buckets (lab-media)" in media.check("s3://other/a.png")
    assert "none are configured" in MediaSources().check("s3://lab-media/a.png")


def test_settings_name_the_buckets_and_the_storage_bucket_is_one():
    from labelhouse.config import Settings

    settings = Settings(storage_url="s3://uploads/prefix", media_buckets="lab-media, raw-data")
    assert MediaSources.from_settings(settings).buckets == {"uploads", "lab-media", "raw-data"}
