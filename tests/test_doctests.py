"""The runnable examples in the package's docstrings: every module's `>>>` lines run as tests."""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import interplay


def _modules_with_examples() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(interplay.__path__, "interplay."):
        spec = importlib.util.find_spec(info.name)
        source = spec.loader.get_source(info.name) if spec and spec.loader else None  # type: ignore[attr-defined]
        if source and ">>> " in source:
            names.append(info.name)
    return names


MODULES = _modules_with_examples()


def test_examples_are_found() -> None:
    assert len(MODULES) >= 20, MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has `>>> ` text but no example doctest could find"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
