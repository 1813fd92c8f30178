"""Template -> `model.Stack`: parameters, conditions, Globals, SAM's implicit resources, intrinsics.

`Builder` runs the whole pipeline once and collects every problem on the way; `pipeline.load_stack()`
raises `TemplateError` if any is an error, `pipeline.validate_template()` returns them all.
The order: load -> schema -> parameters -> conditions -> Globals merge -> implicit resources
(their logical ids are known before anything resolves, so `!Ref ServerlessRestApi` works) ->
dependency cycles -> resolve each resource -> build model objects and run the limit checks.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from samlite.template import cloud, custom, event_sources, model
from samlite.template import validate as checks
from samlite.template.intrinsics import (
    IntrinsicError,
    Resolver,
    Scope,
    is_intrinsic,
    references,
)
from samlite.template.loader import line_of, load_template
from samlite.template.problems import Problems
from samlite.template.resource_types import EMULATED, classify

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
REST_TYPES = ("AWS::Serverless::Api", "AWS::ApiGateway::RestApi")
HTTP_TYPES = ("AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Api")
LAYER_TYPES = ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")

# GetAtt attributes per type; types not listed accept any attribute (we cannot know them all).
ATTRIBUTES: dict[str, frozenset[str]] = {k: frozenset(v.split()) for k, v in {
    "AWS::Serverless::Function": "Arn Alias Version",
    "AWS::Lambda::Function": "Arn SnapStartResponse.ApplyOn SnapStartResponse.OptimizationStatus",
    "AWS::SQS::Queue": "Arn QueueName QueueUrl",
    "AWS::Serverless::Api": "RootResourceId Stage Deployment",
    "AWS::ApiGateway::RestApi": "RootResourceId RestApiId",
    "AWS::Serverless::HttpApi": "ApiEndpoint ApiId Stage",
    "AWS::ApiGatewayV2::Api": "ApiEndpoint ApiId",
    "AWS::IAM::Role": "Arn RoleId",
    "AWS::Lambda::EventSourceMapping": "EventSourceMappingArn Id",
    "AWS::Lambda::Url": "FunctionUrl FunctionArn",
    "AWS::SNS::Topic": "TopicArn TopicName",
    "AWS::Events::Rule": "Arn",
    "AWS::DynamoDB::Table": "Arn StreamArn",
    "AWS::Serverless::SimpleTable": "Arn StreamArn",
    "AWS::S3::Bucket": "Arn DomainName DualStackDomainName RegionalDomainName WebsiteURL",
    "AWS::Logs::LogGroup": "Arn",
    "AWS::Lambda::LayerVersion": "LayerVersionArn",
    "AWS::Serverless::LayerVersion": "LayerVersionArn",
    "AWS::StepFunctions::StateMachine": "Arn Name StateMachineRevisionId",
    "AWS::Serverless::StateMachine": "Arn Name",
}.items()}

NAME_PROPERTY = {
    "AWS::Serverless::Function": "FunctionName", "AWS::Lambda::Function": "FunctionName",
    "AWS::SQS::Queue": "QueueName", "AWS::IAM::Role": "RoleName",
    "AWS::DynamoDB::Table": "TableName", "AWS::Serverless::SimpleTable": "TableName",
    "AWS::SNS::Topic": "TopicName", "AWS::S3::Bucket": "BucketName",
    "AWS::Logs::LogGroup": "LogGroupName", "AWS::Events::Rule": "Name",
    "AWS::StepFunctions::StateMachine": "StateMachineName", "AWS::Serverless::StateMachine": "Name",
    "AWS::Serverless::LayerVersion": "LayerName", "AWS::Lambda::LayerVersion": "LayerName",
}

NAME_PROPERTY.update({k: v for k, v in cloud.NAME_PROPERTY.items() if v})
ATTRIBUTES.update(cloud.ATTRIBUTES)

GLOBAL_SECTIONS = {"Function": "AWS::Serverless::Function", "Api": "AWS::Serverless::Api",
                   "HttpApi": "AWS::Serverless::HttpApi"}


class Unset(str):
    """Placeholder value of a parameter with no default and no override (validate only)."""


@dataclass
class Entry:
    logical_id: str
    type: str
    raw: dict[str, Any]
    generated: bool = False
    source: str | None = None  # generated: the resource that produced it
    depends_on: list[str] = field(default_factory=list)
    resolved: dict[str, Any] | None = None
    emulated: bool = True
    deletion_policy: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)  # the resource's Metadata (BuildMethod, ...)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) and not is_intrinsic(value) else {}


def _hex(seed: str, length: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def uuid_of(seed: str) -> str:
    raw = model.stable_id(seed, 32, "0123456789abcdef")
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


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

    def _reporter(self, section: str | None, lid: str, prefix: tuple[Any, ...] = ()
                  ) -> Callable[[tuple[Any, ...], str, str], None]:
        def report(path: tuple[Any, ...], message: str, severity: str = "error") -> None:
            full = prefix + tuple(path)
            if (lid, full) in self.schema_paths:
                return  # the schema already said what is wrong here
            self.problems.add(severity, section, lid, full, message)
        return report

    def _resolver(self, section: str | None, lid: str, prefix: tuple[Any, ...] = ()) -> Resolver:
        return Resolver(self.scope, self._reporter(section, lid, prefix))

    def _warn_not_emulated(self, lid: str, message: str,
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
            report = self._reporter("Parameters", name)
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
            min_len, max_len = checks.as_int(spec.get("MinLength")), checks.as_int(spec.get("MaxLength"))
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
            resolver = self._resolver("Conditions", name)
            value = resolver.evaluate_condition(definitions[name], ())
        except IntrinsicError as exc:
            self.problems.error("Conditions", name, (), str(exc))
            value = False
        finally:
            self._conditions_busy.discard(name)
        self._conditions[name] = value
        return value

    def _condition_of(self, section: str, lid: str, name: Any) -> bool:
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
            if not self._condition_of("Resources", lid, resource.get("Condition")):
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
            for section, target in GLOBAL_SECTIONS.items():
                if rtype == target and section in globals_:
                    props = merge_globals(_dict(globals_[section]), props,
                                          resource.get("IgnoreGlobals"))
            depends = resource.get("DependsOn", [])
            depends = [depends] if isinstance(depends, str) else [d for d in depends if isinstance(d, str)] \
                if isinstance(depends, list) else []
            policy = resource.get("DeletionPolicy")
            entry = Entry(lid, rtype, props, depends_on=depends, emulated=rtype in EMULATED or kind == "custom",
                          deletion_policy=policy if isinstance(policy, str) else None,
                          metadata=_dict(resource.get("Metadata")))
            self.entries[lid] = entry
            if kind in ("known", "plausible") and rtype not in EMULATED:
                self._warn_not_emulated(lid, f"{rtype} is not emulated by samlite; it is "
                                        "skipped (references to it resolve to placeholder values)")
        for entry in list(self.entries.values()):
            if custom.is_custom(entry.type) and not custom.served_by_stack(entry.raw, self.entries):
                entry.emulated = False
                self._warn_not_emulated(entry.logical_id, f"{entry.type} is not emulated by samlite: its "
                                        "ServiceToken is not a function of this stack; it is skipped "
                                        "(references to it resolve to placeholder values)")
            if entry.type == "AWS::Serverless::Function":
                self._expand_function(entry)
            elif entry.type == "AWS::Serverless::Api":
                stage = entry.raw.get("StageName")
                stage = stage if isinstance(stage, str) else "Stage"
                self._generate(f"{entry.logical_id}Deployment{_hex(entry.logical_id, 10)}",
                               "AWS::ApiGateway::Deployment", entry.logical_id)
                self._generate(f"{entry.logical_id}{_alnum(stage)}Stage", "AWS::ApiGateway::Stage",
                               entry.logical_id)
            elif entry.type == "AWS::Serverless::HttpApi":
                stage = entry.raw.get("StageName", "$default")
                suffix = "ApiGatewayDefaultStage" if stage == "$default" else f"{_alnum(str(stage))}Stage"
                self._generate(f"{entry.logical_id}{suffix}", "AWS::ApiGatewayV2::Stage",
                               entry.logical_id)
        for lid, entry in self.entries.items():
            for target in entry.depends_on:
                if target not in self.entries and not self.entries[lid].generated:
                    message = (f"DependsOn '{target}', which does not exist because its condition "
                               f"'{self.absent[target]}' is false" if target in self.absent
                               else f"DependsOn unknown resource '{target}'")
                    self.problems.error("Resources", lid, ("DependsOn",), message)

    def _generate(self, lid: str, rtype: str, source: str, raw: dict[str, Any] | None = None) -> Entry:
        if lid in self.entries and not self.entries[lid].generated:
            self.problems.error("Resources", lid, (), f"logical id '{lid}' clashes with a resource "
                                f"SAM generates for '{source}'")
        entry = Entry(lid, rtype, raw or {}, generated=True, source=source,
                      emulated=rtype in EMULATED)
        self.entries.setdefault(lid, entry)
        return self.entries[lid]

    def _expand_function(self, fn: Entry) -> None:
        lid = fn.logical_id
        props = fn.raw
        if props.get("Role") is None:
            self._generate(f"{lid}Role", "AWS::IAM::Role", lid)
        for event_name, event in _dict(props.get("Events")).items():
            if not isinstance(event, dict):
                continue
            etype = event.get("Type")
            eprops = _dict(event.get("Properties"))
            if etype == "Api":
                if eprops.get("RestApiId") is None:
                    self._implicit_rest_api()
                    self._generate(f"{lid}{event_name}PermissionProd", "AWS::Lambda::Permission", lid)
                else:
                    self._generate(f"{lid}{event_name}Permission", "AWS::Lambda::Permission", lid)
            elif etype == "HttpApi":
                if eprops.get("ApiId") is None:
                    self._implicit_http_api()
                self._generate(f"{lid}{event_name}Permission", "AWS::Lambda::Permission", lid)
            elif etype in ("SQS", "DynamoDB", "Kinesis"):
                self._generate(f"{lid}{event_name}", "AWS::Lambda::EventSourceMapping", lid)
            elif etype in event_sources.TYPES:
                event_sources.expand(self, fn, event_name, etype, eprops)
            elif isinstance(etype, str):
                generated_type = {"DynamoDB": "AWS::Lambda::EventSourceMapping",
                                  "Kinesis": "AWS::Lambda::EventSourceMapping"}.get(etype)
                if generated_type:
                    gen = self._generate(f"{lid}{event_name}", generated_type, lid)
                    gen.emulated = False
                self._generate(f"{lid}{event_name}Permission", "AWS::Lambda::Permission", lid)
                self._warn_not_emulated(f"{lid}{event_name}" if generated_type else lid,
                                        f"{etype} event '{event_name}' is not emulated: "
                                        "nothing triggers the function on it",
                                        (lid, ("Properties", "Events", event_name)))
        if props.get("FunctionUrlConfig") is not None:
            self._generate(f"{lid}Url", "AWS::Lambda::Url", lid)
            auth = _dict(props.get("FunctionUrlConfig")).get("AuthType")
            if auth == "NONE":
                self._generate(f"{lid}UrlPublicPermissions", "AWS::Lambda::Permission", lid)
        eic = _dict(props.get("EventInvokeConfig"))
        if eic:
            self._generate(f"{lid}EventInvokeConfig", "AWS::Lambda::EventInvokeConfig", lid)
            for which in ("OnSuccess", "OnFailure"):
                dest = _dict(_dict(eic.get("DestinationConfig")).get(which))
                if dest.get("Destination") is None and dest.get("Type") == "SQS":
                    self._generate(f"{lid}EventInvokeConfig{which}Queue", "AWS::SQS::Queue", lid)
                elif dest.get("Destination") is None and dest.get("Type") == "SNS":
                    self._generate(f"{lid}EventInvokeConfig{which}Topic", "AWS::SNS::Topic", lid)
        alias = props.get("AutoPublishAlias")
        if isinstance(alias, str):
            self._generate(f"{lid}Version{_hex(lid, 10)}", "AWS::Lambda::Version", lid).emulated = False
            self._generate(f"{lid}Alias{_alnum(alias)}", "AWS::Lambda::Alias", lid).emulated = False

    def _implicit_rest_api(self) -> None:
        if "ServerlessRestApi" in self.entries and self.entries["ServerlessRestApi"].generated:
            return
        globals_api = _dict(_dict(self.doc.get("Globals")).get("Api"))
        raw = merge_globals(globals_api, {"StageName": "Prod"}, None)
        self._generate("ServerlessRestApi", "AWS::Serverless::Api", "ServerlessRestApi", raw)
        self._generate(f"ServerlessRestApiDeployment{_hex(self.context.stack_name + '/rest', 10)}",
                       "AWS::ApiGateway::Deployment", "ServerlessRestApi")
        self._generate("ServerlessRestApiProdStage", "AWS::ApiGateway::Stage", "ServerlessRestApi")

    def _implicit_http_api(self) -> None:
        if "ServerlessHttpApi" in self.entries and self.entries["ServerlessHttpApi"].generated:
            return
        globals_api = _dict(_dict(self.doc.get("Globals")).get("HttpApi"))
        raw = merge_globals(globals_api, {}, None)
        self._generate("ServerlessHttpApi", "AWS::Serverless::HttpApi", "ServerlessHttpApi", raw)
        self._generate("ServerlessHttpApiApiGatewayDefaultStage", "AWS::ApiGatewayV2::Stage",
                       "ServerlessHttpApi")

    # ------------------------------------------------------------------ cycles

    def _check_cycles(self) -> None:
        graph: dict[str, list[str]] = {}
        for lid, entry in self.entries.items():
            if entry.generated:
                continue
            # A function's Events are wired by SAM through separate resources (permissions,
            # mappings), so `RestApiId: !Ref MyApi` is no dependency of the function itself.
            raw = {k: v for k, v in entry.raw.items() if k != "Events"} \
                if entry.type == "AWS::Serverless::Function" else entry.raw
            targets = set(references(raw)) | set(entry.depends_on)
            if entry.type.startswith("AWS::Serverless::") and lid not in entry.depends_on:
                targets.discard(lid)  # SAM rewrites its own types; a self-Ref there is harmless
            graph[lid] = sorted(t for t in targets if t in self.entries and not self.entries[t].generated)
        for cycle in _cycles(graph):
            chain = " -> ".join(cycle + [cycle[0]])
            self.problems.error("Resources", cycle[0], (), f"circular dependency: {chain}")

    # ------------------------------------------------------------------ physical ids, Ref, GetAtt

    def physical_name(self, lid: str) -> str:
        """The resource's name: its name property if set, else CloudFormation's generated name."""
        if lid in self._names:
            return self._names[lid]
        entry = self.entries[lid]
        prop = NAME_PROPERTY.get(entry.type)
        name: Any = None
        if prop and entry.raw.get(prop) is not None and lid not in self._names_busy:
            self._names_busy.add(lid)
            try:
                name = self._resolver("Resources", lid, ("Properties",)).resolve(entry.raw[prop], (prop,))
            finally:
                self._names_busy.discard(lid)
        if not isinstance(name, str) or not name:
            if entry.type == "AWS::SQS::Queue":
                fifo = checks.as_bool(self._resolver("Resources", lid, ("Properties",)).resolve(
                    entry.raw.get("FifoQueue"), ("FifoQueue",)))
                name = (model.physical_name(self.context.stack_name, lid, 75) + ".fifo" if fifo
                        else model.physical_name(self.context.stack_name, lid, 80))
            elif entry.type in cloud.TYPES:
                name = cloud.default_name(self.context.stack_name, lid, entry.type)
            else:
                name = model.physical_name(self.context.stack_name, lid, 64)
        self._names[lid] = name
        return name

    def api_id(self, lid: str) -> str:
        return model.stable_id(f"{self.context.stack_name}/{lid}", 10)

    def url_id(self, lid: str) -> str:
        return model.stable_id(f"{self.context.stack_name}/{lid}", 32)

    def ref_value(self, lid: str) -> Any:
        entry = self.entries[lid]
        ctx = self.context
        rtype = entry.type
        if custom.is_custom(rtype) and entry.emulated:
            return custom.token(lid)  # the PhysicalResourceId its function answers at deploy
        if rtype in cloud.TYPES:
            return cloud.ref(self, lid)
        if rtype in FUNCTION_TYPES or rtype in ("AWS::IAM::Role", "AWS::DynamoDB::Table",
                                                "AWS::Serverless::SimpleTable", "AWS::S3::Bucket",
                                                "AWS::Logs::LogGroup", "AWS::Events::Rule"):
            return self.physical_name(lid)
        if rtype == "AWS::SQS::Queue":
            return ctx.queue_url(self.physical_name(lid))
        if rtype in REST_TYPES or rtype in HTTP_TYPES:
            return self.api_id(lid)
        if rtype == "AWS::Lambda::EventSourceMapping":
            return uuid_of(f"{ctx.stack_name}/{lid}")
        if rtype == "AWS::Lambda::Url":
            return self.getatt_value(lid, "FunctionArn")
        if rtype in LAYER_TYPES:
            return self.getatt_value(lid, "LayerVersionArn")
        if rtype == "AWS::SNS::Topic":
            return self.getatt_value(lid, "TopicArn")
        if rtype in ("AWS::StepFunctions::StateMachine", "AWS::Serverless::StateMachine"):
            return self.getatt_value(lid, "Arn")
        if rtype == "AWS::ApiGateway::Stage" or rtype == "AWS::ApiGatewayV2::Stage":
            return self._stage_of(entry.source or lid)
        if rtype == "AWS::ApiGateway::Deployment":
            return model.stable_id(f"{ctx.stack_name}/{lid}", 6)
        return self.physical_name(lid)

    def _stage_of(self, api_lid: str) -> str:
        api = self.entries.get(api_lid)
        if api is None:
            return "$default"
        stage = self._resolver("Resources", api_lid, ("Properties",)).resolve(
            api.raw.get("StageName"), ("StageName",))
        if isinstance(stage, str) and stage:
            return stage
        return "$default" if api.type in HTTP_TYPES else "Prod"

    def getatt_value(self, lid: str, attr: str) -> Any:
        entry = self.entries[lid]
        rtype = entry.type
        ctx = self.context
        known = ATTRIBUTES.get(rtype)
        if known is not None and attr not in known:
            raise IntrinsicError(f"{rtype} '{lid}' has no attribute '{attr}' (it has "
                                 f"{', '.join(sorted(known))})")
        region, account = ctx.region, ctx.account_id
        if custom.is_custom(rtype) and entry.emulated:
            return custom.token(lid, attr)  # a key of the Data its function answers at deploy
        if rtype in cloud.TYPES:
            return cloud.getatt(self, lid, attr)
        if rtype in FUNCTION_TYPES:
            if attr == "Arn":
                return ctx.function_arn(self.physical_name(lid))
            alias = entry.raw.get("AutoPublishAlias")
            if not isinstance(alias, str):
                raise IntrinsicError(f"'{lid}.{attr}' needs AutoPublishAlias on the function")
            return ctx.function_arn(self.physical_name(lid)) + (f":{alias}" if attr == "Alias" else ":1")
        if rtype == "AWS::SQS::Queue":
            name = self.physical_name(lid)
            return {"Arn": ctx.queue_arn(name), "QueueName": name, "QueueUrl": ctx.queue_url(name)}[attr]
        if rtype in REST_TYPES:
            if attr == "Stage":
                return self._stage_of(lid)
            if attr == "Deployment":
                return model.stable_id(f"{ctx.stack_name}/{lid}Deployment", 6)
            if attr == "RestApiId":
                return self.api_id(lid)
            return model.stable_id(f"{ctx.stack_name}/{lid}/root", 10)
        if rtype in HTTP_TYPES:
            if attr == "Stage":
                return self._stage_of(lid)
            api_id = self.api_id(lid)
            return api_id if attr == "ApiId" else f"https://{api_id}.execute-api.{region}.amazonaws.com"
        if rtype == "AWS::IAM::Role":
            if attr == "RoleId":
                return "AROA" + model.stable_id(f"{ctx.stack_name}/{lid}", 17, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
            return f"arn:aws:iam::{account}:role/{self.physical_name(lid)}"
        if rtype == "AWS::Lambda::EventSourceMapping":
            mapping = uuid_of(f"{ctx.stack_name}/{lid}")
            return mapping if attr == "Id" else f"arn:aws:lambda:{region}:{account}:event-source-mapping:{mapping}"
        if rtype == "AWS::Lambda::Url":
            if attr == "FunctionUrl":
                return f"https://{self.url_id(lid)}.lambda-url.{region}.on.aws/"
            target = entry.source if entry.generated else None
            if target:
                return ctx.function_arn(self.physical_name(target))
            return self._resolver("Resources", lid, ("Properties",)).resolve(
                entry.raw.get("TargetFunctionArn"), ("TargetFunctionArn",))
        if rtype in LAYER_TYPES:
            return f"arn:aws:lambda:{region}:{account}:layer:{self.physical_name(lid)}:1"
        return self._placeholder_attribute(entry, attr)

    def _placeholder_attribute(self, entry: Entry, attr: str) -> str:
        """Plausible values for resources samlite does not run, so templates still resolve."""
        ctx = self.context
        name = self.physical_name(entry.logical_id)
        region, account = ctx.region, ctx.account_id
        arns = {
            "AWS::SNS::Topic": f"arn:aws:sns:{region}:{account}:{name}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{region}:{account}:table/{name}",
            "AWS::Serverless::SimpleTable": f"arn:aws:dynamodb:{region}:{account}:table/{name}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{region}:{account}:log-group:{name}:*",
            "AWS::Events::Rule": f"arn:aws:events:{region}:{account}:rule/{name}",
            "AWS::StepFunctions::StateMachine": f"arn:aws:states:{region}:{account}:stateMachine:{name}",
            "AWS::Serverless::StateMachine": f"arn:aws:states:{region}:{account}:stateMachine:{name}",
        }
        arn = arns.get(entry.type)
        if arn is None:
            service = entry.type.split("::")[1].lower() if entry.type.count("::") >= 2 else "custom"
            kind = entry.type.rsplit("::", 1)[-1].lower()
            arn = f"arn:aws:{service}:{region}:{account}:{kind}/{name}"
        if attr in ("Arn", "TopicArn"):
            return arn
        if attr == "StreamArn":
            return f"{arn}/stream/2024-01-01T00:00:00.000"
        if attr in ("TopicName", "Name"):
            return name
        if attr in ("DomainName", "RegionalDomainName", "DualStackDomainName"):
            return f"{name}.s3.{region}.amazonaws.com"
        if attr == "WebsiteURL":
            return f"http://{name}.s3-website-{region}.amazonaws.com"
        return f"{name}.{attr}"

    # ------------------------------------------------------------------ resolution

    def _resolve_all(self) -> None:
        for lid, entry in self.entries.items():
            if entry.generated:
                entry.resolved = {}
                continue
            resolved = self._resolver("Resources", lid, ("Properties",)).resolve(entry.raw)
            entry.resolved = resolved if isinstance(resolved, dict) else {}

    # ------------------------------------------------------------------ model assembly

    def _assemble(self) -> model.Stack | None:
        return self.assemble(self) if self.assemble is not None else None


def merge_globals(globals_: dict[str, Any], props: dict[str, Any], ignore: Any) -> dict[str, Any]:
    """SAM's Globals merge: scalars - resource wins; maps merged per key; lists concatenated."""
    if ignore == "*":
        return props
    skip = set(ignore) if isinstance(ignore, list) else set()
    out = {k: v for k, v in globals_.items() if k not in skip}
    for key, value in props.items():
        out[key] = _merge_value(out[key], value, key) if key in out else value
    return out


def _merge_value(global_value: Any, value: Any, key: str) -> Any:
    if is_intrinsic(global_value) or is_intrinsic(value):
        return value
    if isinstance(global_value, dict) and isinstance(value, dict):
        merged = dict(global_value)
        for k, v in value.items():
            merged[k] = _merge_value(merged[k], v, k) if k in merged else v
        return merged
    if isinstance(global_value, list) and isinstance(value, list) and key != "Architectures":
        return global_value + value
    return value


def _alnum(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", text)


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
