"""An organization's model endpoints: add, list, remove, rotate the API key (owners add,
remove and rotate; the API key is encrypted on the way in and never comes back out)."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role
from labelhouse.accounts.policy import Actor
from labelhouse.audit import service as audit
from labelhouse.config import Settings
from labelhouse.errors import Conflict, InvalidInput, NotFound, Problem
from labelhouse.models_loop import secrets
from labelhouse.models_loop.models import EgressRule, ModelEndpoint

KINDS = {"openai": "OpenAI-compatible chat completions", "http": "generic HTTP JSON"}
MAPPING_KEYS = ("predictions", "score", "scores", "candidates")
MAX_CANDIDATES = 20
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
_PATH = re.compile(r"^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$")


def _bad(field: str, problem: str) -> InvalidInput:
    return InvalidInput(f"The endpoint's {field} is invalid: {problem}.", [Problem(field, problem)])


def check_url(url: str) -> str:
    """A URL of the right form (http/https, a host, no credentials); where it points is
    checked by the SSRF-safe client at each call, against the operator's allow-list."""
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError):
        raise _bad("url", f"{url!r} is not a URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise _bad(
            "url", "use an http:// or https:// URL with a host, e.g. https://llm.example.org/v1"
        )
    if parsed.userinfo:
        raise _bad("url", "put the API key in api_key, not in the URL")
    return str(parsed)


def check_mapping(kind: str, mapping: dict[str, Any] | None) -> dict[str, Any]:
    """The generic endpoint's response mapping (docs/models.md): ``predictions`` maps label
    field names to dotted paths in the answer; ``score``, ``scores`` (class probabilities,
    ``{field: {option: p}}``) and ``candidates`` are paths."""
    mapping = dict(mapping or {})
    if kind == "openai":
        if mapping:
            raise _bad("mapping", "an OpenAI-compatible endpoint takes no mapping")
        return {}
    unknown = sorted(set(mapping) - set(MAPPING_KEYS))
    if unknown:
        raise _bad("mapping", f"unknown key(s) {', '.join(unknown)}; use {', '.join(MAPPING_KEYS)}")
    preds = mapping.get("predictions", {})
    if not isinstance(preds, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and _PATH.match(v) for k, v in preds.items()
    ):
        raise _bad("mapping", 'predictions must map field names to paths like "result.label"')
    for key in ("score", "scores", "candidates"):
        value = mapping.get(key)
        if value is not None and not (isinstance(value, str) and _PATH.match(value)):
            raise _bad("mapping", f'{key} must be a dotted path like "result.0.score"')
    if not preds and not mapping.get("candidates"):
        raise _bad("mapping", "give predictions (field → path) or candidates (a path), or both")
    return mapping


def create_endpoint(
    session: Session,
    actor: Actor,
    settings: Settings,
    *,
    name: str,
    kind: str,
    url: str,
    model: str = "",
    version: str = "",
    temperature: float | None = None,
    candidates: int = 2,
    mapping: dict[str, Any] | None = None,
    api_key: str | None = None,
) -> ModelEndpoint:
    actor.require_org(Role.owner, "add model endpoints")
    name = name.strip()
    if not _NAME.match(name):
        raise _bad(
            "name",
            "1–100 letters, digits, spaces, '.', '_' or '-', starting with one of the first two",
        )
    if kind not in KINDS:
        raise _bad("kind", f"use one of {', '.join(KINDS)}, not {kind!r}")
    if kind == "openai" and not model.strip():
        raise _bad("model", "an OpenAI-compatible endpoint needs the model name")
    if temperature is not None and not 0 <= temperature <= 2:
        raise _bad("temperature", "must be between 0 and 2")
    if not 1 <= candidates <= MAX_CANDIDATES:
        raise _bad("candidates", f"must be between 1 and {MAX_CANDIDATES}")
    if len(version) > 100 or len(model) > 200:
        raise _bad("version", "model is at most 200 characters, version at most 100")
    endpoint = ModelEndpoint(
        organization_id=actor.organization_id,
        name=name,
        kind=kind,
        url=check_url(url),
        model=model.strip(),
        version=version.strip(),
        temperature=temperature,
        candidates=candidates,
        mapping=check_mapping(kind, mapping),
        created_by=actor.user_id,
    )
    if api_key and api_key.strip():
        _store_key(settings, endpoint, api_key)
    try:
        with session.begin_nested():
            session.add(endpoint)
            session.flush()
    except IntegrityError:
        raise Conflict(f"An endpoint named '{name}' exists already; choose another name.") from None
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="models.endpoint_added",
        object_type="model_endpoint",
        object_id=endpoint.id,
        details={"name": name, "kind": kind, "url": endpoint.url, "model": endpoint.model},
    )
    return endpoint


def list_endpoints(session: Session, actor: Actor) -> list[ModelEndpoint]:
    actor.require_org(Role.manager, "see the model endpoints")
    return list(
        session.scalars(
            select(ModelEndpoint)
            .where(ModelEndpoint.organization_id == actor.organization_id)
            .order_by(ModelEndpoint.name)
        )
    )


def find_endpoint(session: Session, organization_id: int, ref: int | str) -> ModelEndpoint:
    """An endpoint of the organization by id or exact name; another organization's is a
    404 like a missing one."""
    where = ModelEndpoint.organization_id == organization_id
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        found = session.scalar(select(ModelEndpoint).where(where, ModelEndpoint.id == int(ref)))
    else:
        found = session.scalar(select(ModelEndpoint).where(where, ModelEndpoint.name == ref))
    if found is None:
        raise NotFound(f"Model endpoint {ref} does not exist.")
    return found


def remove_endpoint(session: Session, actor: Actor, ref: int | str) -> None:
    actor.require_org(Role.owner, "remove model endpoints")
    endpoint = find_endpoint(session, actor.organization_id, ref)
    session.execute(delete(EgressRule).where(EgressRule.endpoint_id == endpoint.id))
    session.delete(endpoint)
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="models.endpoint_removed",
        object_type="model_endpoint",
        object_id=endpoint.id,
        details={"name": endpoint.name},
    )


def rotate_key(
    session: Session, actor: Actor, settings: Settings, ref: int | str, api_key: str
) -> ModelEndpoint:
    """Replace an endpoint's API key in place (its egress rules, predictions and model
    version stay). The new key is encrypted like the first; the audit event says that the
    key changed and by whom, nothing of either key."""
    actor.require_org(Role.owner, "rotate model endpoints' API keys")
    endpoint = find_endpoint(session, actor.organization_id, ref)
    if not (api_key or "").strip():
        raise _bad("api_key", "give the new key (it replaces the stored one)")
    had_key = endpoint.secret is not None
    _store_key(settings, endpoint, api_key)
    session.flush()
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="models.endpoint_key_rotated",
        object_type="model_endpoint",
        object_id=endpoint.id,
        details={"name": endpoint.name, "had_key": had_key},
    )
    return endpoint


def _store_key(settings: Settings, endpoint: ModelEndpoint, api_key: str) -> None:
    """Encrypt ``api_key`` (surrounding spaces dropped) onto the endpoint: one rule for the
    first key and every rotation. A key is one line: a line break or NUL would only fail
    later, as a header the HTTP client refuses on every call."""
    key = api_key.strip()
    if any(c in key for c in "\r\n\x00"):
        raise _bad("api_key", "a key is one line of text: paste it without line breaks")
    endpoint.secret = secrets.encrypt(settings, key)
    endpoint.secret_hint = secrets.hint(key)


def model_version(endpoint: ModelEndpoint) -> str:
    """What predictions and candidates of this endpoint are stored under."""
    parts = [endpoint.name, endpoint.model, endpoint.version]
    return "/".join(p for p in parts if p)[:200]


def endpoint_out(endpoint: ModelEndpoint) -> dict[str, Any]:
    """An endpoint as people see it: the API key only as "set" and its last characters."""
    key = None
    if endpoint.secret is not None:
        key = f"set (…{endpoint.secret_hint})" if endpoint.secret_hint else "set"
    return {
        "id": endpoint.id,
        "name": endpoint.name,
        "kind": endpoint.kind,
        "url": endpoint.url,
        "model": endpoint.model,
        "version": endpoint.version,
        "model_version": model_version(endpoint),
        "temperature": endpoint.temperature,
        "candidates": endpoint.candidates,
        "mapping": endpoint.mapping,
        "api_key": key,
        "created_at": endpoint.created_at,
    }
