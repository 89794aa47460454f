"""Settings, read once at start-up from ``LABELHOUSE_*`` environment variables and passed down."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
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
    # A browser session ends after this long whatever happens (absolute lifetime)…
    session_max_age: int = 14 * 24 * 3600
    # …and earlier when unused this long: each request slides its expiry forward (written at
    # most about once a minute per session), never past the absolute lifetime.
    session_idle_seconds: int = 12 * 3600
    # The address people open Labelhouse at (e.g. https://labels.example.org), for when a
    # proxy in front changes the scheme or host the app sees. Cross-site checks of unsafe
    # requests (Origin) accept it besides the request's own origin.
    public_url: str | None = None
    # How long an app server may trust a resolved token/session before asking the database
    # again (revocations on other servers take effect within this time). 0 disables.
    identity_cache_seconds: float = 5.0
    # Signed audit checkpoints (docs/audit.md): an Ed25519 private key file that does not live
    # with the database, and the append-only JSONL file the checkpoints go to (other storage).
    audit_signing_key: Path | None = None
    audit_checkpoint_file: Path | None = None
    audit_checkpoint_minutes: float = Field(default=5.0, gt=0)
    # -- The database: timeouts and the connection budget (docs/deployment.md) -------------
    # Seconds allowed to open a PostgreSQL connection, and to wait for a free pooled one.
    db_connect_timeout: float = Field(default=5.0, gt=0)
    # Longest statement of a web request, in seconds (0: none). PostgreSQL cancels it; when
    # the server does not answer at all, the app cuts the connection a little later.
    db_statement_timeout: float = Field(default=15.0, ge=0)
    # The same for CLI commands (imports, exports, checks) and other long work; 0: none.
    db_long_statement_timeout: float = Field(default=0.0, ge=0)
    # Longest wait for a lock another transaction holds, in seconds: PostgreSQL's
    # lock_timeout, SQLite's busy timeout and its write gate. Web requests…
    db_lock_timeout: float = Field(default=5.0, gt=0)
    # …and CLI commands (an import may queue behind another).
    db_long_lock_timeout: float = Field(default=60.0, gt=0)
    # PostgreSQL connections that the app processes of one host may open together; each of
    # `serve --workers N` gets 1/N. Keep (app hosts × this) + CLI commands below the
    # server's max_connections (or PgBouncer's pool).
    db_max_connections: int = Field(default=30, ge=1)
    # App processes on this host; `serve --workers N` sets LABELHOUSE_WORKERS for them.
    workers: int = Field(default=1, ge=1)
    # Behind PgBouncer in transaction pooling mode: no server-side prepared statements, and
    # the timeouts are set per transaction (session settings would not stick).
    db_pgbouncer: bool = False

    # -- Media by URL (docs/import.md, docs/deployment.md) ---------------------------------
    # Addresses the server may fetch from although they are loopback, private, link-local…
    # (comma-separated CIDRs, e.g. 10.20.0.0/16,fd12::/64); empty: only public addresses.
    fetch_allow: str = ""
    fetch_allow_http: bool = False  # plain http:// media URLs (https only by default)
    fetch_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    fetch_connect_timeout: float = Field(default=5.0, gt=0)
    fetch_read_timeout: float = Field(default=10.0, gt=0)  # longest silence while reading
    fetch_total_timeout: float = Field(default=60.0, gt=0)  # one whole fetch, redirects included
    fetch_max_redirects: int = Field(default=5, ge=0, le=20)
    # s3:// buckets the lab owns besides the storage's own (comma-separated names): their
    # objects are shown through short-lived presigned URLs, reached with the S3 settings above.
    media_buckets: str = ""
    media_url_seconds: int = Field(default=300, ge=10, le=7 * 24 * 3600)

    # -- Models in the loop (docs/models.md) ------------------------------------------------
    # Encrypts model endpoints' API keys in the database: a random secret of at least 32
    # characters kept apart from the database and its backups. No default: unset, no API
    # key can be stored.
    models_secret_key: SecretStr | None = None
    # Private addresses model endpoints may be reached at (comma-separated CIDRs, like
    # fetch_allow, e.g. 10.0.5.0/24 for a GPU box on the LAN), and plain http:// URLs.
    models_allow: str = ""
    models_allow_http: bool = False
    models_max_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)  # one model answer
    models_timeout: float = Field(default=120.0, gt=0)  # one call, from connect to last byte
    models_concurrency: int = Field(default=4, ge=1, le=64)  # calls at once per run

    @field_validator("fetch_allow", "models_allow")
    @classmethod
    def _fetch_allow_is_cidrs(cls, value: str) -> str:
        import ipaddress

        for item in filter(None, (part.strip() for part in value.split(","))):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an address or network; "
                    "write CIDRs separated by commas, e.g. 10.20.0.0/16,127.0.0.1/32"
                ) from None
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url_is_an_origin(cls, value: str | None) -> str | None:
        if value:
            parts = urlsplit(value.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(
                    "LABELHOUSE_PUBLIC_URL must look like https://labels.example.org, "
                    f"not {value!r}"
                )
        return value or None

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'labelhouse.db').resolve()}"

    @property
    def resolved_storage_dir(self) -> Path:
        return self.storage_dir or self.data_dir / "files"
