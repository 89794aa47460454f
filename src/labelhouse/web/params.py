"""Checks on every path and query parameter: bounded integers, storable text.

Every id is a 64-bit ``BIGINT``: a larger number names nothing, and left unchecked it would
reach the database driver and fail there (SQLite's ``OverflowError``, PostgreSQL's
``NumericValueOutOfRange``) as a 500. These types turn it into a 422 naming the parameter.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Request

from labelhouse.errors import InvalidInput, Problem
from labelhouse.storable import ID_MAX, NUL
from labelhouse.storable import PROBLEM as NUL_PROBLEM

__all__ = ["ID_MAX", "Cursor", "Id", "storable_parameters"]

Id = Annotated[int, Path(ge=1, le=ID_MAX)]
Cursor = Annotated[int, Query(ge=0, le=ID_MAX, description="next_cursor from the previous page")]


async def storable_parameters(request: Request) -> None:
    """A global dependency: no NUL in any query or path parameter (see
    :mod:`labelhouse.storable`); a search for one failed on PostgreSQL with a 500."""
    for where, params in (("query", request.query_params), ("path", request.path_params)):
        for name, value in params.items():
            if NUL in name or NUL in str(value):
                raise InvalidInput(
                    f"The {where} parameter '{name.replace(NUL, '')}' {NUL_PROBLEM}.",
                    [Problem(name.replace(NUL, "") or where, NUL_PROBLEM)],
                )
