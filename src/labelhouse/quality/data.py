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
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def _numeric(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


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


def _codes_for(values: Sequence[Hashable], classes: Sequence[Hashable]) -> IntArray:
    index = {c: i for i, c in enumerate(classes)}
    index.update({str(c): i for i, c in enumerate(classes) if str(c) not in index})
    try:
        return np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values))
    except KeyError as exc:
        raise ValueError(
            f"label {exc.args[0]!r} is not one of the declared classes {list(classes)!r}; "
            "add it to `classes` or fix the data"
        ) from None


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
        """
        rows = list(records)
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
        if classes is not None:
            labels, class_ids = _codes_for(label_col, classes), list(classes)
        else:
            labels, class_ids = factorize(label_col)
        return cls(
            items,
            workers,
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

        The delimiter is sniffed from the header when not given (comma or tab).
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
            rows = [(r[item], r[worker], r[label]) for r in reader]
        return cls.from_records(rows, classes=classes)

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
