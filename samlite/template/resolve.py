"""Template -> `model.Stack`: parameters, conditions, Globals, SAM's implicit resources, intrinsics.

`Builder` runs the whole pipeline once and collects every problem on the way; `pipeline.load_stack()`
raises `TemplateError` if any is an error, `pipeline.validate_template()` returns them all.
The order: load -> schema -> parameters -> conditions -> Globals merge -> implicit resources
(their logical ids are known before anything resolves, so `!Ref ServerlessRestApi` works) ->
dependency cycles -> resolve each resource -> build model objects and run the limit checks.

Nothing here is specific to a resource type: names, Ref, GetAtt, the Globals section and SAM's
expansion come from the type's handler (`types.registry.handler_for`). The methods type modules
call are the `types.base.Pipeline` protocol.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Mapping

from samlite.template import model
from samlite.template.intrinsics import (
    IntrinsicError,
    Resolver,
    Scope,
    is_intrinsic,
    references,
)
from samlite.template.loader import line_of, load_template
from samlite.template.problems import Problems
from samlite.template.resource_types import classify
from samlite.template.types.base import Entry, merge_globals
from samlite.template.types.registry import handler_for
from samlite.template.validate import as_int

__all__ = ["Builder", "Entry", "merge_globals"]

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"


class Unset(str):
    """Placeholder value of a parameter with no default and no override (validate only)."""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) and not is_intrinsic(value) else {}


class Builder:
    """One run of the template pipeline. `build()` returns the Stack, or None on fatal problems."""

    def __init__(self, path: str | Path, context: model.Context,
                 parameter_overrides: Mapping[str, str] | None = None, check_code: bool = False,
                 mode: str = "load", assemble: Callable[[Builder], model.Stack | None] | None = None) -> None:
        self.path = Path(path)
        self.assemble = assemble  # resolved entries -> Stack (assemble.Assembler); None: resolve only
        self.file = str(path)
        self.base_dir = self.path.resolve().parent
        self.context = context
        self.overrides = dict(parameter_overrides or {})
        self.check_code = check_code
        self.mode = mode
        self.doc: Any = None
        self.problems = Problems(self.file, None, line_of)
        self.parameters: dict[str, Any] = {}
        self.entries: dict[str, Entry] = {}
        self.absent: dict[str, str] = {}
        self.imports: list[str] = []
        self._conditions: dict[str, bool] = {}
        self._conditions_busy: set[str] = set()
        self._names: dict[str, str] = {}
        self._names_busy: set[str] = set()
        self.schema_paths: set[tuple[str, tuple[Any, ...]]] = set()
        self.warnings: list[model.Warning] = []

    # ------------------------------------------------------------------ problem helpers

    def reporter(self, section: str | None, lid: str, prefix: tuple[Any, ...] = ()
                 ) -> Callable[..., None]:
        """A `report(path, message, severity)` for one place of the template."""
        def report(path: tuple[Any, ...], message: str, severity: str = "error") -> None:
            full = prefix + tuple(path)
            if (lid, full) in self.schema_paths:
                return  # the schema already said what is wrong here
            self.problems.add(severity, section, lid, full, message)
        return report

    def resolver(self, section: str | None, lid: str, prefix: tuple[Any, ...] = ()) -> Resolver:
        return Resolver(self.scope, self.reporter(section, lid, prefix))

    def resolve_property(self, lid: str, key: str) -> Any:
        """One property of a resource, resolved (before the whole resource is)."""
        return self.resolver("Resources", lid, ("Properties",)).resolve(self.entries[lid].raw.get(key), (key,))

    def warn_not_emulated(self, lid: str, message: str,
                           where: tuple[str, tuple[Any, ...]] | None = None) -> None:
        """Warn about a skipped resource; `where` = (logical id, path) to point at instead."""
        at_lid, at_path = where or (lid, ())
        self.problems.warning("Resources", at_lid, at_path, message)
        self.warnings.append(model.Warning(lid, message))

    # ------------------------------------------------------------------ pipeline

    def build(self) -> model.Stack | None:
        self.doc = load_template(self.path)
        self.problems.doc = self.doc
        self._check_schema()
        resources = self.doc.get("Resources")
        if not isinstance(resources, dict) or not resources:
            return None
        self.scope = Scope(
            parameters=self.parameters, pseudo=self._pseudo(),
            resource_ids=lambda: self._ids, ref=self.ref_value, getatt=self.getatt_value,
            mappings=_dict(self.doc.get("Mappings")), condition=self.condition,
            condition_names=lambda: list(_dict(self.doc.get("Conditions"))),
            exports=dict(self.context.exports), region=self.context.region,
            missing_export="warning" if self.mode == "validate" else "error",
            imports=self.imports, absent=self.absent)
        self._ids: list[str] = []
        self._load_parameters()
        self._check_conditions()
        self._collect_resources(resources)
        self._ids = list(self.entries)
        self._check_cycles()
        self._resolve_all()
        stack = self._assemble()
        return stack

    def _check_schema(self) -> None:
        from samlite.template.schema import check_schema

        for path, message in check_schema(self.doc):
            if path and path[0] == "Globals" and len(path) == 3 and message.startswith("unknown property"):
                message = f"'{path[2]}' is not supported in Globals.{path[1]}"
            if len(path) >= 2 and path[0] in ("Resources", "Parameters", "Outputs", "Conditions",
                                              "Mappings"):
                self.problems.error(path[0], str(path[1]), path[2:], message)
                self.schema_paths.add((str(path[1]), tuple(path[2:])))
            elif path and path[0] == "Globals":
                self.problems.error(None, "Globals", path[1:], message)
            else:
                self.problems.error(None, "", path, message)
        uses_sam = any(isinstance(r, dict) and str(r.get("Type", "")).startswith("AWS::Serverless::")
                       for r in _dict(self.doc.get("Resources")).values())
        transform = self.doc.get("Transform")
        transforms = transform if isinstance(transform, list) else [transform]
        if uses_sam and SAM_TRANSFORM not in transforms:
            self.problems.error(None, "", ("Transform",), f"AWS::Serverless::* resources need "
                                f"'Transform: {SAM_TRANSFORM}'")

    def _pseudo(self) -> dict[str, Any]:
        ctx = self.context
        return {"AWS::AccountId": ctx.account_id, "AWS::Region": ctx.region,
                "AWS::StackName": ctx.stack_name, "AWS::StackId": ctx.stack_id,
                "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
                "AWS::NotificationARNs": []}

    # ------------------------------------------------------------------ parameters

    def _load_parameters(self) -> None:
        declared = _dict(self.doc.get("Parameters"))
        for key in self.overrides:
            if key not in declared:
                self.problems.warning(None, "", ("Parameters",), f"parameter override '{key}' "
                                      "is not a parameter of this template; ignored")
        for name, spec in declared.items():
            spec = _dict(spec)
            report = self.reporter("Parameters", name)
            ptype = str(spec.get("Type", "String"))
            if name in self.overrides:
                value: Any = self.overrides[name]
                where: tuple[Any, ...] = ()
                origin = "the override"
            elif "Default" in spec:
                value = spec["Default"]
                where = ("Default",)
                origin = "the default"
            else:
                severity = "warning" if self.mode == "validate" else "error"
                report((), f"parameter '{name}' has no Default and no value was given (use "
                       f"--parameter-overrides {name}=VALUE)", severity)
                placeholder = Unset(name)
                self.parameters[name] = [placeholder] if ptype.startswith("List<") or \
                    ptype == "CommaDelimitedList" else placeholder
                continue
            self.parameters[name] = self._check_parameter(report, name, spec, ptype, value, where,
                                                          origin)
            if ptype.startswith("AWS::SSM::Parameter::Value<"):
                report(("Type",), f"SSM parameter values cannot be looked up offline; '{name}' "
                       f"resolves to the parameter name {self.parameters[name]!r}", "warning")

    def _check_parameter(self, report: Any, name: str, spec: dict[str, Any], ptype: str,
                         value: Any, where: tuple[Any, ...], origin: str) -> Any:
        is_list = ptype.startswith("List<") or ptype == "CommaDelimitedList"
        if isinstance(value, dict) or (isinstance(value, list) and not is_list):
            report(where, f"{origin} for parameter '{name}' must be a single value for type "
                   f"{ptype}, not a {'mapping' if isinstance(value, dict) else 'list'}")
            return ""
        if isinstance(value, list):
            items = [_scalar_text(v) for v in value]
        elif is_list:
            items = [v.strip() for v in _scalar_text(value).split(",")] if _scalar_text(value) else []
        else:
            items = [_scalar_text(value)]
        numeric = ptype in ("Number", "List<Number>")
        allowed = spec.get("AllowedValues")
        pattern = spec.get("AllowedPattern")
        described = spec.get("ConstraintDescription")
        for item in items:
            problems = []
            if numeric:
                try:
                    number = float(item)
                except ValueError:
                    problems.append(f"{item!r} is not a number")
                    number = None
                if number is not None:
                    low, high = _num(spec.get("MinValue")), _num(spec.get("MaxValue"))
                    if low is not None and number < low:
                        problems.append(f"{item} is less than MinValue {spec['MinValue']}")
                    if high is not None and number > high:
                        problems.append(f"{item} is greater than MaxValue {spec['MaxValue']}")
            if isinstance(allowed, list) and item not in [_scalar_text(a) for a in allowed]:
                problems.append(f"{item!r} is not one of the AllowedValues "
                                f"{[_scalar_text(a) for a in allowed]}")
            if isinstance(pattern, str):
                try:
                    if not re.fullmatch(pattern, item):
                        problems.append(f"{item!r} does not match AllowedPattern {pattern!r}")
                except re.error as exc:
                    report(("AllowedPattern",), f"AllowedPattern is not a valid regex: {exc}")
            min_len, max_len = as_int(spec.get("MinLength")), as_int(spec.get("MaxLength"))
            if min_len is not None and len(item) < min_len:
                problems.append(f"{item!r} is shorter than MinLength {min_len}")
            if max_len is not None and len(item) > max_len:
                problems.append(f"{item!r} is longer than MaxLength {max_len}")
            for text in problems:
                suffix = f" ({described})" if described else ""
                report(where, f"{origin} for parameter '{name}' is invalid: {text}{suffix}")
        return items if is_list else items[0]

    # ------------------------------------------------------------------ conditions

    def _check_conditions(self) -> None:
        for name in _dict(self.doc.get("Conditions")):
            try:
                self.condition(name)
            except IntrinsicError as exc:
                self.problems.error("Conditions", name, (), str(exc))

    def condition(self, name: str) -> bool:
        if name in self._conditions:
            return self._conditions[name]
        if name in self._conditions_busy:
            raise IntrinsicError(f"condition '{name}' refers to itself (circular condition)")
        definitions = _dict(self.doc.get("Conditions"))
        self._conditions_busy.add(name)
        try:
            resolver = self.resolver("Conditions", name)
            value = resolver.evaluate_condition(definitions[name], ())
        except IntrinsicError as exc:
            self.problems.error("Conditions", name, (), str(exc))
            value = False
        finally:
            self._conditions_busy.discard(name)
        self._conditions[name] = value
        return value

    def condition_of(self, section: str, lid: str, name: Any) -> bool:
        if name is None:
            return True
        if not isinstance(name, str) or name not in _dict(self.doc.get("Conditions")):
            known = list(_dict(self.doc.get("Conditions")))
            import difflib

            close = difflib.get_close_matches(str(name), known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            self.problems.error(section, lid, ("Condition",), f"unknown condition '{name}'{hint}")
            return True
        return self.condition(name)

    # ------------------------------------------------------------------ resources

    def _collect_resources(self, resources: dict[str, Any]) -> None:
        globals_ = _dict(self.doc.get("Globals"))
        for lid, resource in resources.items():
            if not isinstance(lid, str) or not isinstance(resource, dict) or \
                    not isinstance(resource.get("Type"), str):
                continue  # the schema check has reported it
            if not self.condition_of("Resources", lid, resource.get("Condition")):
                self.absent[lid] = resource["Condition"]
                continue
            rtype = resource["Type"]
            kind, suggestion = classify(rtype)
            if kind == "unknown":
                hint = f"; did you mean '{suggestion}'?" if suggestion else ""
                self.problems.error("Resources", lid, ("Type",), f"unknown resource type "
                                    f"'{rtype}'{hint}")
            props = resource.get("Properties", {})
            props = dict(props) if isinstance(props, dict) and not is_intrinsic(props) else {}
            handler = handler_for(rtype)
            section = handler.globals_section
            if section and section in globals_:
                props = merge_globals(_dict(globals_[section]), props, resource.get("IgnoreGlobals"))
            depends = resource.get("DependsOn", [])
            depends = [depends] if isinstance(depends, str) else [d for d in depends if isinstance(d, str)] \
                if isinstance(depends, list) else []
            policy = resource.get("DeletionPolicy")
            entry = Entry(lid, rtype, props, depends_on=depends, emulated=handler.emulated or kind == "custom",
                          deletion_policy=policy if isinstance(policy, str) else None,
                          metadata=_dict(resource.get("Metadata")))
            self.entries[lid] = entry
            if kind in ("known", "plausible") and not handler.emulated:
                self.warn_not_emulated(lid, f"{rtype} is not emulated by samlite; it is "
                                        "skipped (references to it resolve to placeholder values)")
        for entry in list(self.entries.values()):
            handler_for(entry.type).expand(self, entry)  # SAM's implicit resources, custom resources' checks
        for lid, entry in self.entries.items():
            for target in entry.depends_on:
                if target not in self.entries and not self.entries[lid].generated:
                    message = (f"DependsOn '{target}', which does not exist because its condition "
                               f"'{self.absent[target]}' is false" if target in self.absent
                               else f"DependsOn unknown resource '{target}'")
                    self.problems.error("Resources", lid, ("DependsOn",), message)

    def generate(self, lid: str, rtype: str, source: str, raw: dict[str, Any] | None = None) -> Entry:
        """A resource SAM generates for `source` (its logical id is fixed by SAM's naming)."""
        if lid in self.entries and not self.entries[lid].generated:
            self.problems.error("Resources", lid, (), f"logical id '{lid}' clashes with a resource "
                                f"SAM generates for '{source}'")
        entry = Entry(lid, rtype, raw or {}, generated=True, source=source,
                      emulated=handler_for(rtype).emulated)
        self.entries.setdefault(lid, entry)
        return self.entries[lid]

    # ------------------------------------------------------------------ cycles

    def _check_cycles(self) -> None:
        graph: dict[str, list[str]] = {}
        for lid, entry in self.entries.items():
            if entry.generated:
                continue
            # Some properties are wired by SAM through separate resources (a function's Events).
            exclude = handler_for(entry.type).dependency_exclude
            raw = {k: v for k, v in entry.raw.items() if k not in exclude} if exclude else entry.raw
            targets = set(references(raw)) | set(entry.depends_on)
            if entry.type.startswith("AWS::Serverless::") and lid not in entry.depends_on:
                targets.discard(lid)  # SAM rewrites its own types; a self-Ref there is harmless
            graph[lid] = sorted(t for t in targets if t in self.entries and not self.entries[t].generated)
        for cycle in _cycles(graph):
            chain = " -> ".join(cycle + [cycle[0]])
            self.problems.error("Resources", cycle[0], (), f"circular dependency: {chain}")

    # ------------------------------------------------------------------ physical ids, Ref, GetAtt

    def physical_name(self, lid: str) -> str:
        """The resource's name: its name property if set, else its type's generated name."""
        if lid in self._names:
            return self._names[lid]
        entry = self.entries[lid]
        handler = handler_for(entry.type)
        prop = handler.name_property
        name: Any = None
        if prop and entry.raw.get(prop) is not None and lid not in self._names_busy:
            self._names_busy.add(lid)
            try:
                name = self.resolve_property(lid, prop)
            finally:
                self._names_busy.discard(lid)
        if not isinstance(name, str) or not name:
            name = handler.default_name(self, entry)
        self._names[lid] = name
        return name

    def api_id(self, lid: str) -> str:
        return model.stable_id(f"{self.context.stack_name}/{lid}", 10)

    def url_id(self, lid: str) -> str:
        return model.stable_id(f"{self.context.stack_name}/{lid}", 32)

    def ref_value(self, lid: str) -> Any:
        entry = self.entries[lid]
        return handler_for(entry.type).ref(self, entry)

    def getatt_value(self, lid: str, attr: str) -> Any:
        entry = self.entries[lid]
        handler = handler_for(entry.type)
        known = handler.attributes
        if known is not None and attr not in known:
            raise IntrinsicError(f"{entry.type} '{lid}' has no attribute '{attr}' (it has "
                                 f"{', '.join(sorted(known))})")
        return handler.get_att(self, entry, attr)

    # ------------------------------------------------------------------ resolution

    def _resolve_all(self) -> None:
        for lid, entry in self.entries.items():
            if entry.generated:
                entry.resolved = {}
                continue
            resolved = self.resolver("Resources", lid, ("Properties",)).resolve(entry.raw)
            entry.resolved = resolved if isinstance(resolved, dict) else {}

    # ------------------------------------------------------------------ model assembly

    def _assemble(self) -> model.Stack | None:
        return self.assemble(self) if self.assemble is not None else None


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _num(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (or a self-loop), iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, child_i = work.pop()
            if child_i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            children = graph.get(node, [])
            if child_i < len(children):
                work.append((node, child_i + 1))
                child = children[child_i]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1 or node in graph.get(node, []):
                    result.append(list(reversed(component)))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return result
