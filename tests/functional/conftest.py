"""Fixtures shared by the functional tests."""

from __future__ import annotations

import pytest

from samlite.testing import EngineHandle


@pytest.fixture(scope="module")
def engine(samlite_module_engine: EngineHandle) -> EngineHandle:
    """The module's engine; modules that deploy a stack first override this fixture."""
    return samlite_module_engine
