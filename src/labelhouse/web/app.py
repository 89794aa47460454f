"""Application factory: wires settings, database, storage, middleware and routers."""

from __future__ import annotations

import re

from fastapi import Depends, FastAPI

from labelhouse import __version__
from labelhouse.accounts import passwords
from labelhouse.accounts.identity_cache import IdentityCache
from labelhouse.accounts.throttle import LoginThrottle
from labelhouse.config import Settings
from labelhouse.db.engine import Database, open_database
from labelhouse.storage import Storage, open_storage
from labelhouse.web import errors, pages
from labelhouse.web.api import (
    auth,
    exports,
    pages_support,
    people,
    projects,
    quality,
    review,
    tasks,
)
from labelhouse.web.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from labelhouse.web.params import storable_parameters

UPLOAD_PATHS = re.compile(r"^/api/projects/\d+/(import|files)$")


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    storage: Storage | None = None,
) -> FastAPI:
    settings = settings or Settings()
    passwords.use_profile(settings.password_hash_profile)
    app = FastAPI(
        title="Labelhouse",
        version=__version__,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        dependencies=[Depends(storable_parameters)],
    )
    app.state.settings = settings
    app.state.login_throttle = LoginThrottle()
    app.state.identity_cache = IdentityCache(settings.identity_cache_seconds)
    app.state.db = database or open_database(settings.resolved_database_url)
    app.state.storage = storage or open_storage(settings)
    errors.install(app)
    # The annotator's hot endpoints first: routes are matched in order.
    for router in (
        tasks.router,
        auth.router,
        people.router,
        projects.router,
        exports.router,
        quality.router,
        review.router,
        pages_support.router,
    ):
        app.include_router(router)
    pages.install(app)

    @app.get("/api/health", tags=["meta"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    # The last added is outermost: security headers wrap everything, early 413s included.
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_request_bytes,
        upload_limit=settings.max_upload_bytes,
        is_upload=lambda path: bool(UPLOAD_PATHS.match(path)),
    )
    app.add_middleware(SecurityHeadersMiddleware)
    return app
