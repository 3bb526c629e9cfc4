"""The clients package states its public surface: the package's ``__all__`` and each module's."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import clients

MODULES = sorted(info.name for info in pkgutil.iter_modules(clients.__path__, "clients."))


@pytest.mark.parametrize("name", MODULES)
def test_every_module_lists_its_public_names(name: str) -> None:
    module = importlib.import_module(name)
    listed = module.__all__
    assert len(listed) == len(set(listed)), "listed twice"
    assert [n for n in listed if not hasattr(module, n)] == []
    assert [n for n in listed if n.startswith("_")] == []


def test_the_package_exports_the_modules_objects() -> None:
    namespace: dict[str, object] = {}
    exec("from clients import *", namespace)
    exported = {name: value for name, value in namespace.items() if not name.startswith("__")}
    assert sorted(exported) == sorted(clients.__all__)
    for name, value in exported.items():
        homes = [m for m in MODULES if name in importlib.import_module(m).__all__]
        assert len(homes) == 1, f"{name} should be public in exactly one module, is in {homes}"
        assert getattr(importlib.import_module(homes[0]), name) is value
