"""The one registry of resource type handlers.

Type modules call `register(handler)` when imported; the first lookup imports every module of
`samlite.template.types`, so a new type module needs no line anywhere else. A name no handler
claims gets `UNKNOWN`, the behaviour of a type samlite does not run.
"""

from __future__ import annotations

import importlib
import os

from samlite.template.types.base import ResourceType

_BY_NAME: dict[str, ResourceType] = {}
_FAMILIES: list[ResourceType] = []  # handlers that claim names by pattern (Custom::*)
_loaded = False

UNKNOWN = ResourceType()
UNKNOWN.emulated = False
_NOT_TYPE_MODULES = {"base", "registry"}


def register(handler: ResourceType, family: bool = False) -> ResourceType:
    """Add a handler under its `type_name` (and, for a family, for every name it `claims`)."""
    if family:
        _FAMILIES.append(handler)
    elif handler.type_name in _BY_NAME:
        raise ValueError(f"resource type {handler.type_name} is registered twice")
    else:
        _BY_NAME[handler.type_name] = handler
    return handler


def unregister(handler: ResourceType) -> None:
    """Take a handler out again (tests that register a throwaway type)."""
    if _BY_NAME.get(handler.type_name) is handler:
        del _BY_NAME[handler.type_name]
    if handler in _FAMILIES:
        _FAMILIES.remove(handler)


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    # A plain listing of this folder: pkgutil would cost `samlite validate` a millisecond to import.
    for file in sorted(os.listdir(os.path.dirname(__file__))):
        name, dot, ext = file.partition(".")
        if ext == "py" and not name.startswith("_") and name not in _NOT_TYPE_MODULES:
            importlib.import_module(f"samlite.template.types.{name}")


def handler_for(type_name: str) -> ResourceType:
    handler = _BY_NAME.get(type_name)  # the hot path: a few thousand lookups per template
    if handler is not None:
        return handler
    if not _loaded:
        _load()
        return handler_for(type_name)
    for family in _FAMILIES:
        if family.claims(type_name):
            return family
    return UNKNOWN


def is_registered(type_name: str) -> bool:
    """Whether a type module registered this exact name."""
    _load()
    return type_name in _BY_NAME


def handlers() -> list[ResourceType]:
    """Every handler registered by name, in registration order."""
    _load()
    return list(_BY_NAME.values())


def emulated_types() -> frozenset[str]:
    """The type names samlite runs (or records with a local effect), by name."""
    return frozenset(h.type_name for h in handlers() if h.emulated)
