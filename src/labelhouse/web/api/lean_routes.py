"""The annotator's two hot routes (``POST /next``, ``POST /tasks/{id}/annotations``) without
FastAPI's per-request dependency solving and routing layers.

An annotator's every task is one request to each; on a quiet server FastAPI's generic
machinery around them (dependency graph, included-router dispatch, exit stacks) cost about a
quarter of the server's CPU per task. A :class:`LeanRoute` sits first in the app's routes
and serves the common request itself: it reads the parameters with FastAPI's own functions
and the route's own fields (so a value means exactly what it meant), and calls the same
endpoint function with the same :class:`~labelhouse.web.deps.Context`.
Anything unusual — a parameter or body that does not validate, a body that is not plain
JSON, a NUL anywhere (``storable_parameters``) — is handed, untouched, to the regular
FastAPI route, which answers it as it always did: error shapes, status codes and sentences
come from one place. The regular route also stays the one in the OpenAPI document.

Where the endpoint runs: on SQLite, when the write gate is free this instant, on the event
loop's own thread; otherwise on a worker thread, as FastAPI runs it. Handing a request to a
worker thread and its answer back costs about 0.13 ms of CPU (GIL hand-offs and wake-ups:
a bare Starlette endpoint takes 0.11 ms per request, 0.24 ms through the thread pool), a
quarter of an annotator's request. On SQLite the endpoint's writes queue behind the gate
anyway and its work is CPU under the GIL, so the loop lost nothing by running it: with the
gate already held it waits for no lock (SQLite's other waits are local disk reads). A gate
held or awaited by anyone else sends the request to a worker thread, so the loop never
waits for it. Only the unit of work and a small answer are made on the loop: a task whose
display HTML is big (``tasks.SMALL_RENDERING``) is rendered on a worker thread, after the
commit as always. On PostgreSQL the endpoint always runs on a worker thread: there every
statement waits for a server, perhaps a remote one, and the loop must not.

Authentication, CSRF, organization scoping, idempotency and the limits live in the endpoint,
``Context`` and the ASGI middleware, which both paths share.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from fastapi import FastAPI
from fastapi._compat import ModelField
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Message, Receive, Scope, Send

from labelhouse.storable import NUL
from labelhouse.web.api import tasks
from labelhouse.web.deps import get_context
from labelhouse.web.params import storable_parameters

# The app-level dependencies a lean route knows how to honour (see _unusual).
KNOWN_APP_DEPENDENCIES = (storable_parameters,)
# Each hot endpoint, and its unit of work apart from the response (same parameters).
HOT_ENDPOINTS: dict[Callable[..., Response], Callable[..., tasks.Answer]] = {
    tasks.next_task: tasks.lease_next,
    tasks.save_annotation: tasks.submit,
}
# Parameter types read as FastAPI reads a scalar: one value by its alias, else the default.
SCALARS = {int, bool, str | None, datetime | None}
_MISSING = object()


@dataclass(frozen=True)
class _Param:
    """One path, query or header parameter: FastAPI's lookup and validation of a scalar
    (``request_params_to_args``), with the per-request introspection done once."""

    name: str
    alias: str
    field: ModelField
    default: Any

    @classmethod
    def of(cls, field: ModelField, where: str) -> _Param:
        info = field.field_info
        if info.annotation not in SCALARS or info.validation_alias not in (None, field.alias):
            raise RuntimeError(f"{where} parameter {field.name}: not a plain scalar")
        default = None if info.is_required() else info.default
        if default not in (None, False, True) or info.validate_default:
            raise RuntimeError(f"{where} parameter {field.name}: a default to copy or check")
        return cls(field.name, field.alias, field, default)

    def read(self, source: Mapping[str, Any]) -> Any:
        """The value, or _MISSING when FastAPI would report an error."""
        value = source.get(self.alias)
        if value is None:
            return _MISSING if self.field.field_info.is_required() else self.default
        value, errors = self.field.validate(value)
        return _MISSING if errors else value


def _is_json(content_type: str) -> bool:
    return content_type.partition(";")[0].strip().lower() == "application/json"


def _unusual(request: Request, path_params: dict[str, Any]) -> bool:
    """Whether ``storable_parameters`` (the app's one global dependency) would refuse it:
    those requests go the regular way, which raises its error."""
    if any(NUL in str(v) for v in path_params.values()):
        return True
    if not request.scope.get("query_string"):
        return False
    return any(NUL in k or NUL in v for k, v in request.query_params.multi_items())


class LeanRoute(BaseRoute):
    """Serves ``route``'s POSTs itself when they are ordinary; see the module docstring."""

    def __init__(
        self, route: APIRoute, fallback: Callable[[Scope, Receive, Send], Awaitable[None]]
    ):
        endpoint = route.endpoint
        dependant = route.dependant
        if inspect.iscoroutinefunction(endpoint) or route.methods != {"POST"}:
            raise RuntimeError(f"{route.path}: a lean route serves sync POST endpoints only")
        if inspect.signature(endpoint, eval_str=True).return_annotation is not Response:
            raise RuntimeError(f"{route.path}: the endpoint must return its Response")
        contexts = [d.name for d in dependant.dependencies if d.call is get_context]
        if len(contexts) != len(dependant.dependencies) or len(contexts) != 1:
            raise RuntimeError(f"{route.path}: a lean route knows the Context dependency only")
        if dependant.cookie_params or dependant.request_param_name or dependant.response_param_name:
            raise RuntimeError(f"{route.path}: parameters a lean route does not read")
        body = dependant.body_params
        if len(body) > 1 or route._embed_body_fields:
            raise RuntimeError(f"{route.path}: one body model, not embedded, only")
        self.route = route
        self.endpoint = endpoint
        self.work = HOT_ENDPOINTS[endpoint]
        if (
            inspect.signature(self.work).parameters.keys()
            != inspect.signature(endpoint).parameters.keys()
        ):
            raise RuntimeError(f"{route.path}: its unit of work takes other parameters")
        self.path_params = [_Param.of(f, "path") for f in dependant.path_params]
        self.query_params = [_Param.of(f, "query") for f in dependant.query_params]
        self.header_params = [_Param.of(f, "header") for f in dependant.header_params]
        self.body: ModelField | None = body[0] if body else None
        self.context_name: str = contexts[0]  # type: ignore[assignment]
        self.fallback = fallback
        self.path = route.path
        self.name = route.name

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] != "POST":
            return Match.NONE, {}
        match, child = Route.matches(self.route, scope)  # the route's own path pattern
        if match is not Match.FULL:
            return Match.NONE, {}
        child["route"] = self.route  # what the regular route sets (the denial audit reads it)
        return match, child

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        return self.route.url_path_for(name, **path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        arguments = await self._arguments(request)
        if arguments is None:
            await self.fallback(scope, _replay(request, receive), send)
            return
        context = await get_context(request)
        arguments[self.context_name] = context
        answer: tasks.Answer | None = None
        with context.db.write_gate_if_free() as free:
            if free:  # SQLite with nobody writing: on the event loop (module docstring)
                answer = self.work(**arguments)
        if answer is None:
            response = await run_in_threadpool(self.endpoint, **arguments)
        elif answer.quick:
            response = answer.response()
        else:  # a big Markdown rendering: not on the loop
            response = await run_in_threadpool(answer.response)
        await response(scope, receive, send)

    async def _arguments(self, request: Request) -> dict[str, Any] | None:
        """The endpoint's arguments, read as FastAPI reads them; None to go the regular way."""
        path_params = request.path_params
        if _unusual(request, path_params):
            return None
        values: dict[str, Any] = {}
        # no query string: every query parameter's default, nothing to parse
        query = request.query_params if request.scope.get("query_string") else {}
        for params, source in (
            (self.path_params, path_params),
            (self.query_params, query),
            (self.header_params, request.headers),
        ):
            for param in params:
                value = param.read(source)
                if value is _MISSING:
                    return None
                values[param.name] = value
        if self.body is not None:
            if not _is_json(request.headers.get("content-type", "")):
                return None
            try:
                raw = await request.body()
            except HTTPException:
                raise  # over the size limit: a 413, as on the regular route
            except Exception:
                return None  # the regular route's answer to a body it could not read
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return None  # maybe still JSON to the stdlib (a BOM, NaN, a huge number)
            value, errors = self.body.validate(body, {}, loc=("body",))
            if errors:
                return None
            values[self.body.name] = value
        return values


def _replay(request: Request, receive: Receive) -> Receive:
    """``receive`` for the regular route, with the body this route may have read already."""
    if not hasattr(request, "_body"):
        return receive
    body, given = request._body, False

    async def replayed() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def install(app: FastAPI) -> None:
    """Put the lean routes first in ``app`` (after its routers are included)."""
    known = tuple(d.dependency for d in app.router.dependencies)
    if known != KNOWN_APP_DEPENDENCIES:
        raise RuntimeError("app-level dependencies changed: teach lean_routes about them")

    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        for route in app.router.routes:  # Starlette's own dispatch, minus the lean routes
            if isinstance(route, LeanRoute):
                continue
            match, child = route.matches(scope)
            if match is Match.FULL:
                scope.update(child)
                await route.handle(scope, receive, send)
                return
        raise RuntimeError(f"no regular route for {scope['method']} {scope['path']}")

    hot = [
        r for r in tasks.router.routes if isinstance(r, APIRoute) and r.endpoint in HOT_ENDPOINTS
    ]
    if len(hot) != len(HOT_ENDPOINTS):
        raise RuntimeError("a hot endpoint is missing from the tasks router")
    app.router.routes[:0] = [LeanRoute(route, fallback) for route in hot]
