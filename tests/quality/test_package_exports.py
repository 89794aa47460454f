"""The lazy ``quality`` package: every export resolves, and none is shadowed by a submodule."""

from __future__ import annotations

import importlib
import pkgutil

import labelhouse.quality as quality


def test_no_submodule_shares_a_name_with_an_export():
    submodules = {m.name for m in pkgutil.iter_modules(quality.__path__)}
    assert not submodules & set(quality._EXPORTS)


def test_exports_resolve_after_every_submodule_is_imported():
    for m in pkgutil.iter_modules(quality.__path__):
        importlib.import_module(f"labelhouse.quality.{m.name}")
    for name in quality._EXPORTS:
        assert not isinstance(getattr(quality, name), type(quality)), name
