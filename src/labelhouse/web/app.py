"""Application factory: wires settings, database, storage, middleware and routers."""

from __future__ import annotations

import re

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from labelhouse import __version__
from labelhouse.accounts import passwords
from labelhouse.accounts.identity_cache import IdentityCache
from labelhouse.accounts.throttle import LoginThrottle
from labelhouse.config import Settings
from labelhouse.db.engine import Database, DatabaseOptions, open_database
from labelhouse.jobs.runtime import Jobs
from labelhouse.media.sources import MediaSources
from labelhouse.storage import Storage, open_storage
from labelhouse.web import errors, pages
from labelhouse.web.api import (
    annotation_imports,
    auth,
    comments,
    exports,
    feedback,
    jobs,
    label_studio,
    lean_routes,
    models,
    my_workforce,
    outside_policy,
    pages_support,
    people,
    projects,
    quality,
    review,
    rubrics,
    tasks,
    workforce_comparison,
    workforces,
)
from labelhouse.web.api import media as media_api
from labelhouse.web.middleware import (
    AfterResponseMiddleware,
    BodyLimitMiddleware,
    CrossSiteWriteMiddleware,
    SecurityHeadersMiddleware,
)
from labelhouse.web.pages.common import render
from labelhouse.web.params import storable_parameters

UPLOAD_PATHS = re.compile(
    r"^/api/(projects/\d+/(import|import/jobs|files|annotations/import)|label-studio/import)$"
)
# Vendored under static/vendor/ (see its README); the API docs page loads nothing from outside.
SWAGGER_UI = "/static/vendor/swagger-ui-5.35.0"
OPENAPI_URL = "/api/openapi.json"


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    storage: Storage | None = None,
    media: MediaSources | None = None,
) -> FastAPI:
    settings = settings or Settings()
    passwords.use_profile(settings.password_hash_profile)
    app = FastAPI(
        title="Labelhouse",
        version=__version__,
        docs_url=None,  # our own page below: vendored Swagger UI under the strict CSP
        redoc_url=None,
        openapi_url=OPENAPI_URL,
        dependencies=[Depends(storable_parameters)],
    )
    app.state.settings = settings
    app.state.login_throttle = LoginThrottle()
    app.state.identity_cache = IdentityCache(settings.identity_cache_seconds)
    app.state.db = database or open_database(
        settings.resolved_database_url, DatabaseOptions.interactive(settings)
    )
    app.state.storage = storage or open_storage(settings)
    app.state.media = media or MediaSources.from_settings(settings)
    app.state.jobs = Jobs(settings, database=app.state.db, storage=app.state.storage)
    errors.install(app)
    # The annotator's hot endpoints first: routes are matched in order (and see lean_routes).
    for router in (
        tasks.router,
        auth.router,
        people.router,
        projects.router,
        exports.router,
        jobs.router,
        quality.router,
        review.router,
        pages_support.router,
        workforces.router,
        my_workforce.router,
        workforce_comparison.router,
        outside_policy.router,
        feedback.router,
        comments.router,
        media_api.router,
        label_studio.router,
        annotation_imports.router,
        rubrics.router,
        models.router,
    ):
        app.include_router(router)
    pages.install(app)

    @app.get(
        "/api/health",
        tags=["meta"],
        responses={503: {"description": "The database or the file storage is unavailable"}},
    )
    def health() -> JSONResponse:
        """Whether this server can work now: its database answers (``SELECT 1``, within
        2 s) and its file storage takes uploads. 503 names the part that is down, so a load
        balancer takes the server out until it is back. Cheap enough to poll."""
        parts = {"database": app.state.db.ping(), "storage": app.state.storage.healthy()}
        up = all(parts.values())
        body = {"status": "ok" if up else "unavailable"}
        body |= {part: "ok" if ok else "unavailable" for part, ok in parts.items()}
        response = JSONResponse({**body, "version": __version__}, status_code=200 if up else 503)
        if not up:
            response.headers["retry-after"] = "5"
        return response

    @app.get("/api/docs", include_in_schema=False)
    def api_docs(request: Request) -> HTMLResponse:
        """Interactive API documentation (Swagger UI, served from this package)."""
        return render(request, "api_docs.html", swagger_ui=SWAGGER_UI, openapi_url=OPENAPI_URL)

    lean_routes.install(app)  # the annotator's two hot routes, served first (see there)

    # The last added is outermost: security headers wrap everything, early 413s and
    # cross-site refusals included; work left for after a response runs once it is sent.
    app.add_middleware(AfterResponseMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_request_bytes,
        upload_limit=settings.max_upload_bytes,
        is_upload=lambda path: bool(UPLOAD_PATHS.match(path)),
    )
    app.add_middleware(CrossSiteWriteMiddleware, public_url=settings.public_url)
    # Pages may show images from the lab's buckets (presigned URLs), and from nowhere else.
    app.add_middleware(SecurityHeadersMiddleware, img_sources=app.state.media.image_origins())
    return app
