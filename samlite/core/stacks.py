"""Read-only view of the deployed stacks: names, models, resources and functions.

Services that answer "which function is this?" (logs, metrics, the Lambda API, the gateway) read
through this catalog; only the deployer writes the stack tables.
"""

from __future__ import annotations

import json
from typing import Any

from samlite.core.store import Store
from samlite.errors import NotFoundError
from samlite.template.model import Stack, from_dict


class StackCatalog:
    def __init__(self, store: Store) -> None:
        self.store = store

    def names(self) -> list[str]:
        return [r["name"] for r in self.store.query("SELECT name FROM stacks ORDER BY name")]

    def model(self, name: str) -> Stack | None:
        row = self.store.query_one("SELECT model_json FROM stacks WHERE name = ?", (name,))
        return from_dict(Stack, json.loads(row["model_json"])) if row else None

    def models(self) -> list[Stack]:
        rows = self.store.query("SELECT model_json FROM stacks ORDER BY name")
        return [from_dict(Stack, json.loads(r["model_json"])) for r in rows]

    def require(self, name: str | None) -> str:
        """The named stack, or the only one deployed when no name is given; NotFoundError otherwise."""
        names = self.names()
        if name is None:
            if len(names) == 1:
                return names[0]
            if not names:
                raise NotFoundError("no stack is deployed", hint="Deploy one with `samlite deploy`.")
            raise NotFoundError(f"several stacks are deployed ({', '.join(names)})", hint="Pass --stack-name.")
        if name not in names:
            raise NotFoundError(f"stack {name!r} is not deployed",
                                hint=f"Deployed stacks: {', '.join(names) or 'none'}.")
        return name

    def selected(self, stack: str | None) -> list[str]:
        """One stack when named (it must exist), else every deployed stack."""
        return [self.require(stack)] if stack else self.names()

    def resources(self, stack: str | None = None) -> list[dict[str, Any]]:
        out = []
        for name in self.selected(stack):
            for r in self.store.query("SELECT * FROM resources WHERE stack = ? ORDER BY logical_id", (name,)):
                out.append({"stack": name, "logical_id": r["logical_id"], "type": r["type"],
                            "physical_id": r["physical_id"], "status": r["status"],
                            "emulated": bool(r["emulated"])})
        return out

    def function(self, function: str, stack: str | None = None) -> dict[str, Any]:
        """Resolve a logical id (within a stack) or a physical name to the deployed function."""
        if stack is not None:
            self.require(stack)
            row = self.store.query_one("SELECT name, stack, logical_id FROM functions WHERE stack = ? AND"
                                       " (logical_id = ? OR name = ?)", (stack, function, function))
        else:
            row = self.store.query_one("SELECT name, stack, logical_id FROM functions WHERE name = ?", (function,))
            if row is None:
                rows = self.store.query("SELECT name, stack, logical_id FROM functions WHERE logical_id = ?",
                                        (function,))
                if len(rows) > 1:
                    raise NotFoundError(f"function {function!r} exists in several stacks "
                                        f"({', '.join(r['stack'] for r in rows)})", hint="Pass --stack-name.")
                row = rows[0] if rows else None
        if row is None:
            where = f" in stack {stack!r}" if stack else ""
            raise NotFoundError(f"function {function!r} is not deployed{where}",
                                hint="`samlite list resources` shows what is deployed.")
        return {"name": row["name"], "stack": row["stack"], "logical_id": row["logical_id"]}

    def function_names(self, function: str | None, stack: str | None) -> list[str]:
        """The physical names one function, one stack, or every stack refers to."""
        if function:
            return [self.function(function, stack)["name"]]
        if stack:
            self.require(stack)
            rows = self.store.query("SELECT name FROM functions WHERE stack = ? ORDER BY name", (stack,))
        else:
            rows = self.store.query("SELECT name FROM functions ORDER BY name")
        return [r["name"] for r in rows]
