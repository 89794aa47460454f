"""The label matrix every quality statistic reads: long-form integer arrays.

Annotations are sparse — each item has a handful of annotators out of many — so instead of a
padded item × worker matrix we keep one row per given label: ``(item, worker, label)`` as
three aligned ``int64`` arrays. Missing labels are simply absent rows, items may have any
number of annotators, and every per-item or per-worker sum becomes one ``np.bincount``.
Ids from the outside world (task ids, user names, option values) are factorised to dense
``0..n-1`` codes once, here, and kept alongside so results can be mapped back.
"""

from __future__ import annotations

import contextlib
import csv
import math
import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


# A number, strictly: ASCII digits, optional sign, point and exponent — nothing else. Python's
# float() also reads " 1", "1_000", "inf", "nan" and full-width or Arabic-Indic digits, which
# in a label column are typos or placeholders, not ratings (see :func:`Labels.from_records`).
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def _numeric(value: Any) -> float | None:
    """The value as a finite float if it is a number under the strict rule, else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | np.integer):
        return float(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        number = float(value)
        return number if math.isfinite(number) else None  # "1e999" overflows to inf
    return None


def is_missing(value: Any) -> bool:
    """True for "no label": ``None``, a float NaN, an empty or blank string, or ``"nan"``.

    These are what CSV writers and data frames put in an empty cell; counting them as a class
    would silently change every statistic (krippendorff, pandas and R treat them as missing).
    """
    if value is None or type(value).__name__ in ("NAType", "NaTType"):  # pandas' NA, NaT
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    if isinstance(value, str):
        text = value.strip()
        return not text or text.lower() == "nan"
    return False


def _loose_number(value: Any) -> bool:
    """An infinite float, or a string that Python's float() reads but the strict rule refuses
    (" 1", "1_000", "inf")."""
    if isinstance(value, float | np.floating):
        return not math.isfinite(value)
    if not isinstance(value, str) or _NUMBER.fullmatch(value):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def factorize(
    values: Sequence[Hashable] | np.ndarray, *, sort: bool = True
) -> tuple[IntArray, list[Any]]:
    """Map arbitrary ids to dense codes ``0..n-1``; return ``(codes, uniques)``.

    With ``sort`` the codes follow the natural order of the ids — numerically when every id
    reads as a number (so ratings "2" < "10"), else lexically — which keeps class codes
    stable between runs and gives ordinal metrics the right order. Ids that cannot be
    compared keep their order of first appearance.
    """
    if isinstance(values, np.ndarray) and values.dtype.kind in "biufUS":
        uniques, codes = np.unique(values, return_inverse=True)
        if values.dtype.kind in "US" and sort:
            numbers = [_numeric(u) for u in uniques.tolist()]
            if all(n is not None for n in numbers):
                order = np.argsort(np.asarray(numbers, dtype=float), kind="stable")
                rank = np.empty_like(order)
                rank[order] = np.arange(order.size)
                return rank[codes.ravel()].astype(np.int64), uniques[order].tolist()
        return codes.ravel().astype(np.int64), uniques.tolist()
    seq = list(values)
    keys = list(dict.fromkeys(seq))
    if sort:
        numbers = [_numeric(k) for k in keys]
        if keys and all(n is not None for n in numbers):
            keys = [k for _, k in sorted(zip(numbers, keys, strict=True), key=lambda p: p[0])]
        else:
            with contextlib.suppress(TypeError):
                keys = sorted(keys)  # type: ignore[type-var]
    index = {k: i for i, k in enumerate(keys)}
    codes = np.fromiter((index[v] for v in seq), dtype=np.int64, count=len(seq))
    return codes, keys


def codes_for(values: Sequence[Hashable], classes: Sequence[Hashable]) -> IntArray:
    """Codes of ``values`` in ``classes``: equal values, their text, or the same number."""
    index = {c: i for i, c in enumerate(classes)}
    index.update({str(c): i for i, c in enumerate(classes) if str(c) not in index})
    by_number: dict[float, int] = {}
    for i, c in enumerate(classes):
        number = _numeric(c)
        if number is not None:
            by_number.setdefault(number, i)
    codes = np.empty(len(values), dtype=np.int64)
    for r, v in enumerate(values):
        code = index.get(v)
        if code is None and (number := _numeric(v)) is not None:
            code = by_number.get(number)
        if code is None:
            raise ValueError(
                f"label {v!r} is not one of the declared classes {list(classes)!r}; "
                "add it to `classes` or fix the data"
            )
        codes[r] = code
    return codes


def _factorize_labels(values: list[Hashable]) -> tuple[IntArray, list[Any]]:
    """Class codes in natural order; when every label is a number, equal numbers ("1", "1.0",
    1) are one class, named by its first spelling. Labels mixing numbers and words are
    nominal: each distinct label is its own class."""
    numbers = [_numeric(v) for v in values]
    if not values or any(n is None for n in numbers):
        return factorize(values)
    codes, uniques = factorize(numbers)
    spelling: dict[float, Hashable] = {}
    for v, n in zip(values, numbers, strict=True):
        spelling.setdefault(n, v)  # type: ignore[arg-type]
    return codes, [spelling[u] for u in uniques]


@dataclass(frozen=True, eq=False)
class Labels:
    """One row per given label: ``items[r]`` was labelled ``labels[r]`` by ``workers[r]``.

    ``n_items``/``n_workers``/``n_classes`` are explicit rather than inferred so that an
    item nobody labelled, a worker with no labels yet, or a class nobody chose still has a
    slot in every result array (a class never used must not silently shift the codes).
    """

    items: IntArray
    workers: IntArray
    labels: IntArray
    n_items: int
    n_workers: int
    n_classes: int
    item_ids: list[Any] | None = None
    worker_ids: list[Any] | None = None
    class_ids: list[Any] | None = None

    def __post_init__(self) -> None:
        arrays = {}
        for name in ("items", "workers", "labels"):
            arr = np.ascontiguousarray(getattr(self, name), dtype=np.int64).ravel()
            arrays[name] = arr
            object.__setattr__(self, name, arr)
        sizes = {arr.size for arr in arrays.values()}
        if len(sizes) != 1:
            raise ValueError(
                "items, workers and labels must have the same length, got "
                + ", ".join(f"{k}={v.size}" for k, v in arrays.items())
            )
        for name, bound in (
            ("items", self.n_items),
            ("workers", self.n_workers),
            ("labels", self.n_classes),
        ):
            arr = arrays[name]
            if arr.size and (arr.min() < 0 or arr.max() >= bound):
                raise ValueError(
                    f"{name} codes must lie in 0..{bound - 1} ({bound} slots), "
                    f"found {int(arr.min())}..{int(arr.max())}"
                )

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_arrays(
        cls,
        items: npt.ArrayLike,
        workers: npt.ArrayLike,
        labels: npt.ArrayLike,
        *,
        n_items: int | None = None,
        n_workers: int | None = None,
        n_classes: int | None = None,
    ) -> Labels:
        """Wrap integer codes that are already dense; sizes default to ``max + 1``."""
        it, wk, lb = (np.asarray(a, dtype=np.int64).ravel() for a in (items, workers, labels))

        def size(arr: IntArray, given: int | None) -> int:
            return int(given) if given is not None else (int(arr.max()) + 1 if arr.size else 0)

        return cls(it, wk, lb, size(it, n_items), size(wk, n_workers), size(lb, n_classes))

    @classmethod
    def from_records(
        cls,
        records: Iterable[tuple[Hashable, Hashable, Hashable]],
        *,
        classes: Sequence[Hashable] | None = None,
    ) -> Labels:
        """Build from ``(item_id, worker_id, label)`` tuples with arbitrary hashable ids.

        Pass ``classes`` to fix the class codes (and include classes nobody chose); else they
        are the labels seen, in natural order.

        * A missing label (``None``, NaN, an empty or blank string, ``"nan"``: see
          :func:`is_missing`) is no label: the row is dropped, its item and worker keep
          their slot. It is never a class.
        * Numbers are read strictly — ASCII digits with an optional sign, point and
          exponent (``"3"``, ``"-2.5"``, ``"1e3"``) — and equal numbers are one class
          (``"1"``, ``"1.0"`` and ``1``). A label that only Python's lenient ``float()``
          reads (``" 1"``, ``"1_000"``, ``"inf"``, full-width or Arabic-Indic digits) is
          refused with the record and value named rather than guessed at.
        """
        rows = list(records)
        return cls._build(rows, classes, lambda r: f"record {r + 1}")

    @classmethod
    def _build(
        cls,
        rows: list[tuple[Hashable, Hashable, Hashable]],
        classes: Sequence[Hashable] | None,
        where: Callable[[int], str],
    ) -> Labels:
        if not rows:
            return cls(
                np.empty(0, np.int64),
                np.empty(0, np.int64),
                np.empty(0, np.int64),
                0,
                0,
                len(classes or ()),
                [],
                [],
                list(classes or ()),
            )
        item_col, worker_col, label_col = (list(col) for col in zip(*rows, strict=True))
        items, item_ids = factorize(item_col, sort=False)
        workers, worker_ids = factorize(worker_col, sort=False)
        keep = [r for r, v in enumerate(label_col) if not is_missing(v)]
        given = [label_col[r] for r in keep]
        for r, v in zip(keep, given, strict=True):
            if _loose_number(v):
                raise ValueError(
                    f"{where(r)}: label {v!r} is not a plain number; write numbers with "
                    "ASCII digits only, without spaces, underscores, inf or nan (e.g. 3, "
                    "-2.5, 1e3), or leave the cell empty for no label"
                )
        if classes is not None:
            labels, class_ids = codes_for(given, classes), list(classes)
        else:
            labels, class_ids = _factorize_labels(given)
        return cls(
            items[keep],
            workers[keep],
            labels,
            len(item_ids),
            len(worker_ids),
            len(class_ids),
            item_ids,
            worker_ids,
            class_ids,
        )

    @classmethod
    def from_csv(
        cls,
        path: str | Path,
        *,
        item: str,
        worker: str,
        label: str,
        classes: Sequence[Hashable] | None = None,
        delimiter: str | None = None,
    ) -> Labels:
        """Read long-form labels from a CSV/TSV file with a header row (no pandas needed).

        The delimiter is sniffed from the header when not given (comma or tab). Empty cells
        are missing labels, and numbers are read strictly, as in :meth:`from_records`; an
        error names the file's line.
        """
        with open(path, newline="", encoding="utf-8") as handle:
            header = handle.readline()
            handle.seek(0)
            sep = delimiter or ("\t" if header.count("\t") > header.count(",") else ",")
            reader = csv.DictReader(handle, delimiter=sep)
            missing = [c for c in (item, worker, label) if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(
                    f"{path}: no column {missing!r}; the header has {reader.fieldnames!r}"
                )
            rows, lines = [], []
            for r in reader:
                rows.append((r[item], r[worker], r[label]))
                lines.append(reader.line_num)
        return cls._build(rows, classes, lambda r: f"{path} line {lines[r]}")

    # ----------------------------------------------------------------- views
    def __len__(self) -> int:
        return int(self.items.size)

    def item_class_counts(self) -> IntArray:
        """``counts[i, k]`` = how many labels of class ``k`` item ``i`` received."""
        flat = np.bincount(
            self.items * self.n_classes + self.labels, minlength=self.n_items * self.n_classes
        )
        return flat.reshape(self.n_items, self.n_classes)

    def worker_class_counts(self) -> IntArray:
        """``counts[w, k]`` = how often worker ``w`` answered class ``k``."""
        flat = np.bincount(
            self.workers * self.n_classes + self.labels, minlength=self.n_workers * self.n_classes
        )
        return flat.reshape(self.n_workers, self.n_classes)

    def labels_per_item(self) -> IntArray:
        return np.bincount(self.items, minlength=self.n_items)

    def labels_per_worker(self) -> IntArray:
        return np.bincount(self.workers, minlength=self.n_workers)

    def select(self, mask: BoolArray) -> Labels:
        """Keep the rows where ``mask`` is true; the id spaces stay the same."""
        return Labels(
            self.items[mask],
            self.workers[mask],
            self.labels[mask],
            self.n_items,
            self.n_workers,
            self.n_classes,
            self.item_ids,
            self.worker_ids,
            self.class_ids,
        )

    def has_duplicates(self) -> bool:
        """True if some worker labelled some item more than once."""
        key = self.items * max(self.n_workers, 1) + self.workers
        return bool(np.unique(key).size != key.size)

    def drop_duplicates(self) -> Labels:
        """Keep only the last label of each (item, worker) pair.

        Pairwise statistics (Cohen's κ, the pair κ matrix) assume one label per worker and
        item; a re-submitted annotation should replace the earlier one, not count twice.
        """
        key = self.items * max(self.n_workers, 1) + self.workers
        _, first_in_reversed = np.unique(key[::-1], return_index=True)
        keep = np.zeros(key.size, dtype=bool)
        keep[key.size - 1 - first_in_reversed] = True
        return self.select(keep)

    def class_values(self) -> FloatArray:
        """Numeric value of each class for interval/ordinal metrics.

        The class ids themselves when they all read as numbers (ratings 1..5), else the
        codes ``0..K-1``.
        """
        if self.class_ids is not None:
            numbers = [_numeric(c) for c in self.class_ids]
            if numbers and all(n is not None for n in numbers):
                return np.asarray(numbers, dtype=np.float64)
        return np.arange(self.n_classes, dtype=np.float64)
