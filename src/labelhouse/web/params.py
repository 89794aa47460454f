"""Bounded integer parameters for paths and queries.

Every id is a 64-bit ``BIGINT``: a larger number names nothing, and left unchecked it would
reach the database driver and fail there (SQLite's ``OverflowError``, PostgreSQL's
``NumericValueOutOfRange``) as a 500. These types turn it into a 422 naming the parameter.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

ID_MAX = 2**63 - 1

Id = Annotated[int, Path(ge=1, le=ID_MAX)]
Cursor = Annotated[int, Query(ge=0, le=ID_MAX, description="next_cursor from the previous page")]
