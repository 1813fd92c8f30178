"""`model.Stack` -> plain JSON-ready dicts (golden tests, `--output json` listings, debugging).

Absolute paths under `relative_to` are written relative to it, so the output does not depend on
where the project lives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from samlite.template.model import Stack, to_dict


def stack_to_dict(stack: Stack, relative_to: str | Path | None = None) -> dict[str, Any]:
    base = str(Path(relative_to).resolve()) if relative_to else None
    return _plain(to_dict(stack), base)


def _plain(value: Any, base: str | None) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v, base) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, base) for v in value]
    if isinstance(value, str) and base and (value == base or value.startswith(base + "/")):
        rel = value[len(base):].lstrip("/")
        return f"<base>/{rel}" if rel else "<base>"
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
