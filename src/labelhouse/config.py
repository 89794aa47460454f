"""Settings, read once at start-up from ``LABELHOUSE_*`` environment variables and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LABELHOUSE_", extra="ignore")

    data_dir: Path = Path("./labelhouse-data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file under data_dir"
    )
    storage_dir: Path | None = None
    # Uploaded media in S3-compatible storage instead of storage_dir: s3://bucket[/prefix].
    # Credentials come from boto3's usual chain (AWS_ACCESS_KEY_ID…, a profile, a role).
    storage_url: str | None = None
    s3_endpoint_url: str | None = None  # for MinIO, Ceph, R2…; unset for AWS
    s3_region: str | None = None
    s3_path_style: bool = False  # bucket in the path, as most S3-compatible servers want
    max_request_bytes: int = 2 * 1024 * 1024
    max_upload_bytes: int = 1024 * 1024 * 1024
    secure_cookies: bool = False
    password_hash_profile: str = "default"  # "cheapest" only for tests
    session_max_age: int = 14 * 24 * 3600
    # How long an app server may trust a resolved token/session before asking the database
    # again (revocations on other servers take effect within this time). 0 disables.
    identity_cache_seconds: float = 5.0

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'labelhouse.db').resolve()}"

    @property
    def resolved_storage_dir(self) -> Path:
        return self.storage_dir or self.data_dir / "files"
