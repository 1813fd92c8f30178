"""Resolved resources -> the frozen `model` objects, running each type's checks on the way.

A generic pass over `resolve.Builder`'s entries after intrinsics are resolved: in each assembly
phase (see `types.base`), every resource whose type handler assembles in that phase is checked
(`check`, template resources only) and assembled (`assemble`). Then the stack listing (every
resource with its physical id) and the Outputs.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from samlite.template import model
from samlite.template.types.base import Entry, ResourceType
from samlite.template.types.registry import handler_for
from samlite.template.validate import as_bool

if TYPE_CHECKING:
    from samlite.template.resolve import Builder


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class Assembler:
    def __init__(self, builder: "Builder") -> None:
        self.b = builder
        self.ctx = builder.context
        self.functions: dict[str, model.Function] = {}
        self.layers: dict[str, model.Layer] = {}
        self.queues: dict[str, model.Queue] = {}
        self.mappings: dict[str, model.EventSourceMapping] = {}
        self.apis: dict[str, model.Api] = {}
        self.urls: dict[str, model.FunctionUrl] = {}
        self.routes: dict[str, list[model.Route]] = {}
        self.generated_props: dict[str, dict[str, Any]] = {}
        self.memo: dict[str, Any] = {}
        self._paths: dict[str, str] = {}

    def report(self, lid: str, prefix: tuple[Any, ...] = ("Properties",)) -> Any:
        return self.b.reporter("Resources", lid, prefix)

    def run(self) -> model.Stack | None:
        entries = self.b.entries
        by_phase: dict[int, list[tuple[Entry, ResourceType]]] = {}
        for entry in entries.values():
            handler = handler_for(entry.type)
            phase = handler.generated_phase if entry.generated else handler.phase
            if phase is not None:
                by_phase.setdefault(phase, []).append((entry, handler))
        for phase in sorted(by_phase):
            for entry, handler in by_phase[phase]:
                self._assemble(entry, handler)
        outputs = self._outputs()
        resources = {lid: self._resource(entry) for lid, entry in entries.items()}
        return model.Stack(
            name=self.ctx.stack_name, region=self.ctx.region, account_id=self.ctx.account_id,
            template_path=str(self.b.path.resolve()), project_dir=str(self.b.base_dir),
            parameters=dict(self.b.parameters), resources=resources, functions=self.functions,
            layers=self.layers, queues=self.queues, mappings=self.mappings, apis=self.apis,
            function_urls=self.urls, outputs=tuple(outputs), imports=tuple(self.b.imports),
            warnings=self._warnings(),
            no_echo_parameters=tuple(
                name for name, spec in _d(self.b.doc.get("Parameters")).items()
                if as_bool(_d(spec).get("NoEcho"))))

    def _assemble(self, entry: Entry, handler: ResourceType) -> None:
        try:
            if not entry.generated:
                handler.check(self, entry)
            handler.assemble(self, entry)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            self.cannot(entry.logical_id, exc)

    def _warnings(self) -> tuple[model.Warning, ...]:
        """Skipped resources first, then every other warning (code not found, SSM, Transform)."""
        out = list(self.b.warnings)
        known = {w.message for w in out}
        for problem in self.b.problems.warnings:
            if problem.message not in known:
                where = f"{problem.path}: " if problem.path else ""
                out.append(model.Warning(problem.logical_id, where + problem.message))
                known.add(problem.message)
        return tuple(out)

    def cannot(self, lid: str, exc: Exception) -> None:
        """A resource whose (resolved) properties broke its assembly; said once, if nothing else was."""
        if not self.b.problems.errors:
            self.b.problems.error("Resources", lid, (), f"cannot interpret this resource: {exc}")

    # ------------------------------------------------------------------ lookups for the type handlers

    def queue_by_arn(self, arn: Any) -> model.Queue | None:
        for queue in self.queues.values():
            if arn in (queue.arn, queue.url):
                return queue
        return None

    def function_by_ref(self, value: Any) -> str | None:
        """A function's logical id from its name, ARN (optionally qualified) or logical id."""
        if not isinstance(value, str):
            return None
        for lid, entry in self.b.entries.items():
            if handler_for(entry.type).invocable:
                name = self.b.physical_name(lid)
                arn = self.ctx.function_arn(name)
                if value in (name, arn, lid) or value.startswith(arn + ":"):
                    return lid
        return None

    def local_path(self, value: Any) -> str | None:
        """A code or content path of the template, absolute (remembered: resolving costs syscalls)."""
        if not isinstance(value, str) or value.startswith("s3://") or not value:
            return None
        path = self._paths.get(value)
        if path is None:
            path = self._paths[value] = str((self.b.base_dir / value).resolve())
        return path

    # ------------------------------------------------------------------ generic listing

    def _resource(self, entry: Entry) -> model.Resource:
        b = self.b
        if entry.generated:
            props = self.generated_props.get(entry.logical_id, {"GeneratedBy": entry.source})
        else:
            props = entry.resolved or {}
        try:
            physical = handler_for(entry.type).physical_id(b, entry)
        except Exception:  # noqa: BLE001 - a listing must not fail on a broken resource
            physical = b.physical_name(entry.logical_id)
        return model.Resource(entry.logical_id, entry.type, props, str(physical),
                              emulated=entry.emulated, generated=entry.generated,
                              deletion_policy=entry.deletion_policy)

    # ------------------------------------------------------------------ outputs

    def _outputs(self) -> list[model.Output]:
        out = []
        for key, spec in _d(self.b.doc.get("Outputs")).items():
            spec = _d(spec)
            if not self.b.condition_of("Outputs", key, spec.get("Condition")):
                continue
            resolver = self.b.resolver("Outputs", key)
            value = resolver.resolve(spec.get("Value"), ("Value",))
            if isinstance(value, list):
                value = ",".join(str(v) for v in value)
            elif isinstance(value, dict):
                value = json.dumps(value)
            elif isinstance(value, bool):
                value = "true" if value else "false"
            export = _d(spec.get("Export"))
            export_name = resolver.resolve(export.get("Name"), ("Export", "Name")) if export else None
            description = resolver.resolve(spec.get("Description", ""), ("Description",))
            out.append(model.Output(key=key, value="" if value is None else str(value),
                                    description=str(description or ""),
                                    export_name=str(export_name) if export_name is not None else None))
        names = [o.export_name for o in out if o.export_name]
        for name in {n for n in names if names.count(n) > 1}:
            self.b.problems.error(None, "Outputs", (), f"export name '{name}' is used twice")
        return out
