"""Resolved resources -> the frozen `model` objects, running the limit checks on the way.

Works on a `resolve.Builder` after intrinsics are resolved: functions, layers, queues, event
source mappings (explicit and SAM SQS events), APIs and their routes (from function events),
function URLs, the properties of SAM's generated resources, and Outputs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from samlite.template import event_sources, model, raw_apis, streams
from samlite.template import validate as checks

if TYPE_CHECKING:
    from samlite.template.resolve import Builder, Entry

REST_TIMEOUT_MS = 29000
HTTP_TIMEOUT_MS = 30000


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strs(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list):
        return tuple(str(v) for v in value if v is not None)
    return ()


def _int(value: Any, default: int) -> int:
    number = checks.as_int(value)
    return default if number is None else number


def _fifo_arn(arn: Any) -> bool | None:
    """A queue outside the template is FIFO when its ARN says so; otherwise unknown."""
    return True if isinstance(arn, str) and arn.endswith(".fifo") else None


def _unquote(value: Any) -> tuple[str, ...]:
    """REST Cors values are quoted header strings: "'*'" -> ("*",), "'GET,POST'" -> both."""
    if not isinstance(value, str):
        return ()
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        text = text[1:-1]
    return tuple(p.strip() for p in text.split(",") if p.strip())


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

    def report(self, lid: str, prefix: tuple[Any, ...] = ("Properties",)) -> Any:
        return self.b._reporter("Resources", lid, prefix)

    def run(self) -> model.Stack | None:
        entries = self.b.entries
        for lid, entry in entries.items():
            if entry.generated:
                continue
            try:
                if entry.type in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"):
                    self._layer(entry)
                elif entry.type == "AWS::SQS::Queue":
                    self._queue(entry)
            except (TypeError, ValueError, AttributeError, KeyError) as exc:
                self._cannot(lid, exc)
        # Generated queues (EventInvokeConfig destinations) exist before functions refer to them.
        for entry in entries.values():
            if entry.generated and entry.type == "AWS::SQS::Queue":
                self._queue(entry)
        for lid, entry in entries.items():
            if entry.generated:
                continue
            try:
                if entry.type in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
                    self._function(entry)
            except (TypeError, ValueError, AttributeError, KeyError) as exc:
                self._cannot(lid, exc)
        for lid, entry in entries.items():
            try:
                if entry.type == "AWS::Lambda::EventSourceMapping" and not entry.generated:
                    self._explicit_mapping(entry)
                elif entry.type == "AWS::Lambda::Url" and not entry.generated:
                    self._explicit_url(entry)
            except (TypeError, ValueError, AttributeError, KeyError) as exc:
                self._cannot(lid, exc)
        raw_apis.collect(self)  # AWS::ApiGateway::Method, AWS::ApiGatewayV2::Route
        for lid, entry in entries.items():
            if entry.type in ("AWS::Serverless::Api", "AWS::Serverless::HttpApi",
                              "AWS::ApiGateway::RestApi", "AWS::ApiGatewayV2::Api"):
                try:
                    self._api(entry)
                except (TypeError, ValueError, AttributeError, KeyError) as exc:
                    self._cannot(lid, exc)
        for lid in self.routes:
            if lid not in self.apis:
                pass  # reported where the event names it
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
                if checks.as_bool(_d(spec).get("NoEcho"))))

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

    def _cannot(self, lid: str, exc: Exception) -> None:
        if not self.b.problems.errors:
            self.b.problems.error("Resources", lid, (), f"cannot interpret this resource: {exc}")

    # ------------------------------------------------------------------ generic listing

    def _resource(self, entry: "Entry") -> model.Resource:
        b = self.b
        if entry.generated:
            props = self.generated_props.get(entry.logical_id, {"GeneratedBy": entry.source})
        else:
            props = entry.resolved or {}
        try:
            physical = self._physical_id(entry)
        except Exception:  # noqa: BLE001 - a listing must not fail on a broken resource
            physical = b.physical_name(entry.logical_id)
        return model.Resource(entry.logical_id, entry.type, props, str(physical),
                              emulated=entry.emulated, generated=entry.generated,
                              deletion_policy=entry.deletion_policy)

    def _physical_id(self, entry: "Entry") -> Any:
        lid = entry.logical_id
        if entry.type in ("AWS::Lambda::Url",):
            return self.b.getatt_value(lid, "FunctionUrl")
        if entry.type in ("AWS::Lambda::Permission", "AWS::Lambda::EventInvokeConfig",
                          "AWS::Lambda::Version", "AWS::Lambda::Alias"):
            return self.b.physical_name(lid)
        value = self.b.ref_value(lid)
        return value if isinstance(value, str) else json.dumps(value)

    # ------------------------------------------------------------------ layers & queues

    def _layer(self, entry: "Entry") -> None:
        props = entry.resolved or {}
        content = props.get("ContentUri") if entry.type == "AWS::Serverless::LayerVersion" else props.get("Content")
        path = self._local_path(content)
        report = self.report(entry.logical_id)
        if path is None and entry.type == "AWS::Serverless::LayerVersion" and isinstance(content, str):
            pass
        if path is not None and not Path(path).exists():
            report(("ContentUri",), f"layer content not found: {path}",
                   "error" if self.b.check_code else "warning")
        name = self.b.physical_name(entry.logical_id)
        self.layers[entry.logical_id] = model.Layer(
            logical_id=entry.logical_id, name=name, arn=self.b.getatt_value(entry.logical_id, "LayerVersionArn"),
            content_uri=path or "", compatible_runtimes=_strs(props.get("CompatibleRuntimes")),
            **_build_metadata(entry))

    def _queue(self, entry: "Entry") -> None:
        lid = entry.logical_id
        props = entry.resolved or {}
        if not entry.generated:
            checks.check_queue(self.report(lid), props)
        name = self.b.physical_name(lid)
        redrive = props.get("RedrivePolicy")
        if isinstance(redrive, str):
            try:
                redrive = json.loads(redrive)
            except ValueError:
                redrive = None
        policy = None
        if isinstance(redrive, dict) and redrive.get("deadLetterTargetArn"):
            policy = model.RedrivePolicy(str(redrive["deadLetterTargetArn"]),
                                         _int(redrive.get("maxReceiveCount"), 10))
        tags = {str(t.get("Key")): str(t.get("Value")) for t in props.get("Tags", [])
                if isinstance(t, dict)} if isinstance(props.get("Tags"), list) else {}
        fifo = checks.as_bool(props.get("FifoQueue")) or name.endswith(".fifo")
        self.queues[lid] = model.Queue(
            logical_id=lid, name=name, url=self.ctx.queue_url(name), arn=self.ctx.queue_arn(name),
            fifo=fifo,
            visibility_timeout=_int(props.get("VisibilityTimeout"), 30),
            message_retention_period=_int(props.get("MessageRetentionPeriod"), 345600),
            delay_seconds=_int(props.get("DelaySeconds"), 0),
            maximum_message_size=_int(props.get("MaximumMessageSize"), 1048576),
            receive_message_wait_time_seconds=_int(props.get("ReceiveMessageWaitTimeSeconds"), 0),
            content_based_deduplication=checks.as_bool(props.get("ContentBasedDeduplication")),
            redrive_policy=policy, tags=tags)

    def _queue_by_arn(self, arn: Any) -> model.Queue | None:
        for queue in self.queues.values():
            if arn in (queue.arn, queue.url):
                return queue
        return None

    def _function_by_ref(self, value: Any) -> str | None:
        """A function's logical id from its name, ARN (optionally qualified) or logical id."""
        if not isinstance(value, str):
            return None
        for lid, entry in self.b.entries.items():
            if entry.type in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
                name = self.b.physical_name(lid)
                arn = self.ctx.function_arn(name)
                if value in (name, arn, lid) or value.startswith(arn + ":"):
                    return lid
        return None

    # ------------------------------------------------------------------ functions

    def _local_path(self, value: Any) -> str | None:
        if not isinstance(value, str) or value.startswith("s3://") or not value:
            return None
        return str((self.b.base_dir / value).resolve())

    def _function(self, entry: "Entry") -> None:
        lid = entry.logical_id
        props = entry.resolved or {}
        report = self.report(lid)
        sam = entry.type == "AWS::Serverless::Function"
        if sam:
            checks.check_function(report, props)
            code_uri = self._local_path(props.get("CodeUri"))
            inline = props.get("InlineCode")
        else:
            code = _d(props.get("Code"))
            inline = code.get("ZipFile")
            code_uri = self._local_path(props.get("Code")) if isinstance(props.get("Code"), str) else None
            lambda_props = dict(props)
            lambda_props.setdefault("PackageType", "Zip")
            if code:
                lambda_props["CodeUri"] = "s3" if code.get("S3Bucket") else None
                lambda_props["InlineCode"] = inline
            if not code and isinstance(props.get("Code"), str):
                lambda_props["CodeUri"] = props["Code"]
            checks.check_function(report, lambda_props)
        runtime = props.get("Runtime")
        # A BuildMethod (esbuild, makefile, cargo-lambda, ...) makes the handler: the build checks it.
        method = entry.metadata.get("BuildMethod")
        built_by_method = isinstance(method, str) and not re.fullmatch(r"python\d+\.\d+|nodejs\d+\.x", method)
        if isinstance(runtime, str) and checks.NOT_EMULATED_RUNTIME.fullmatch(runtime):
            self.b._warn_not_emulated(lid, checks.not_emulated_runtime(runtime), (lid, ("Properties", "Runtime")))
        elif isinstance(runtime, str) and inline is None and not built_by_method and checks.without_bootstrap(runtime, code_uri):
            self.b._warn_not_emulated(lid, checks.not_emulated_runtime(
                runtime, f" (no executable bootstrap in {code_uri})"), (lid, ("Properties", "Runtime")))
        if code_uri and inline is None and props.get("PackageType", "Zip") == "Zip" and not built_by_method:
            checks.check_code(report, props, code_uri, "error" if self.b.check_code else "warning")
        name = self.b.physical_name(lid)
        env_vars = _d(_d(props.get("Environment")).get("Variables"))
        layers = self._function_layers(entry)
        storage = _d(props.get("EphemeralStorage"))
        logging = _d(props.get("LoggingConfig"))
        tags = props.get("Tags")
        if isinstance(tags, list):
            tags = {str(t.get("Key")): str(t.get("Value")) for t in tags if isinstance(t, dict)}
        dlq = self._dlq(props)
        eic = self._event_invoke_config(entry, props)
        durable = props.get("DurableConfig")
        function = model.Function(
            logical_id=lid, name=name, arn=self.ctx.function_arn(name),
            runtime=props.get("Runtime") if isinstance(props.get("Runtime"), str) else None,
            handler=props.get("Handler") if isinstance(props.get("Handler"), str) else None,
            code_uri=None if inline is not None else code_uri,
            inline_code=inline if isinstance(inline, str) else None,
            package_type=str(props.get("PackageType", "Zip")),
            memory_size=_int(props.get("MemorySize"), 128), timeout=_int(props.get("Timeout"), 3),
            ephemeral_storage=_int(storage.get("Size"), 512),
            environment={str(k): checks.env_string(v) for k, v in env_vars.items()},
            architectures=_strs(props.get("Architectures")) or ("x86_64",), layers=layers,
            reserved_concurrency=checks.as_int(props.get("ReservedConcurrentExecutions")),
            dead_letter_queue=dlq, event_invoke_config=eic,
            auto_publish_alias=props.get("AutoPublishAlias")
            if isinstance(props.get("AutoPublishAlias"), str) else None,
            description=str(props.get("Description") or ""),
            tags={str(k): str(v) for k, v in _d(tags).items()},
            log_format=str(logging.get("LogFormat", "Text")),
            application_log_level=logging.get("ApplicationLogLevel"),
            not_emulated=(f"PackageType Image is not emulated by samlite: function {lid} is deployed but "
                          "cannot be invoked locally") if props.get("PackageType") == "Image" else None,
            durable_execution_timeout=_int(_d(durable).get("ExecutionTimeout"), 86400)
            if isinstance(durable, dict) else None,
            durable_retention_days=_int(_d(durable).get("RetentionPeriodInDays"), 14)
            if isinstance(durable, dict) else None,
            **_build_metadata(entry))
        self.functions[lid] = function
        if sam:
            self._events(entry, function)
            self._function_url(entry, function)
            self._generated_function_resources(entry, function)

    def _function_layers(self, entry: "Entry") -> tuple[str, ...]:
        raw = entry.raw.get("Layers")
        resolved = (entry.resolved or {}).get("Layers")
        if not isinstance(resolved, list):
            return ()
        out = []
        raw_items = raw if isinstance(raw, list) else []
        for index, value in enumerate(resolved):
            item = raw_items[index] if index < len(raw_items) else None
            if isinstance(item, dict) and isinstance(item.get("Ref"), str) and item["Ref"] in self.layers:
                out.append(item["Ref"])
                continue
            local = next((layer.logical_id for layer in self.layers.values() if layer.arn == value), None)
            out.append(local or str(value))
        return tuple(out)

    def _dlq(self, props: Mapping[str, Any]) -> model.Destination | None:
        dlq = _d(props.get("DeadLetterQueue") or props.get("DeadLetterConfig"))
        arn = dlq.get("TargetArn")
        if not arn:
            return None
        kind = dlq.get("Type") or ("SQS" if str(arn).startswith("arn:aws:sqs") else "SNS")
        return model.Destination(str(kind), str(arn))

    def _event_invoke_config(self, entry: "Entry", props: Mapping[str, Any]) -> model.EventInvokeConfig | None:
        eic = _d(props.get("EventInvokeConfig"))
        if not eic:
            return None
        lid = entry.logical_id
        config = _d(eic.get("DestinationConfig"))
        dests: dict[str, model.Destination | None] = {}
        for which in ("OnSuccess", "OnFailure"):
            dest = _d(config.get(which))
            kind = dest.get("Type")
            arn = dest.get("Destination")
            if not kind:
                dests[which] = None
                continue
            if not arn and kind == "SQS":
                arn = self.queues[f"{lid}EventInvokeConfig{which}Queue"].arn
            elif not arn and kind == "SNS":
                arn = self.b.getatt_value(f"{lid}EventInvokeConfig{which}Topic", "TopicArn")
            dests[which] = model.Destination(str(kind), str(arn or ""))
        result = model.EventInvokeConfig(
            maximum_event_age_seconds=_int(eic.get("MaximumEventAgeInSeconds"), 21600),
            maximum_retry_attempts=_int(eic.get("MaximumRetryAttempts"), 2),
            on_success=dests["OnSuccess"], on_failure=dests["OnFailure"])
        self.generated_props[f"{lid}EventInvokeConfig"] = {
            "FunctionName": self.b.physical_name(lid), "Qualifier": "$LATEST",
            "MaximumEventAgeInSeconds": result.maximum_event_age_seconds,
            "MaximumRetryAttempts": result.maximum_retry_attempts,
            "DestinationConfig": {k: {"Destination": v.arn} for k, v in dests.items() if v}}
        return result

    def _generated_function_resources(self, entry: "Entry", function: model.Function) -> None:
        lid = entry.logical_id
        props = entry.resolved or {}
        if f"{lid}Role" in self.b.entries and self.b.entries[f"{lid}Role"].generated:
            managed = ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
            if any(_d(e).get("Type") == "SQS" for e in _d(props.get("Events")).values()):
                managed.append("arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole")
            self.generated_props[f"{lid}Role"] = {
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Action": ["sts:AssumeRole"],
                    "Principal": {"Service": ["lambda.amazonaws.com"]}}]},
                "ManagedPolicyArns": managed, "Policies": props.get("Policies", [])}
        for other, gen in self.b.entries.items():
            if gen.generated and gen.source == lid and gen.type == "AWS::Lambda::Permission":
                self.generated_props[other] = {"Action": "lambda:InvokeFunction",
                                               "FunctionName": function.name}

    # ------------------------------------------------------------------ events

    def _events(self, entry: "Entry", function: model.Function) -> None:
        lid = entry.logical_id
        for event_name, event in _d((entry.resolved or {}).get("Events")).items():
            event = _d(event)
            etype = event.get("Type")
            eprops = _d(event.get("Properties"))
            report = self.report(lid, ("Properties", "Events", event_name, "Properties"))
            if etype == "SQS":
                self._sqs_event(lid, event_name, eprops, function, report)
            elif etype in ("DynamoDB", "Kinesis"):
                self._stream_event(lid, event_name, eprops, function, report)
            elif etype in ("Api", "HttpApi"):
                self._route_event(entry, event_name, etype, eprops, report)
            elif etype in event_sources.TYPES:
                self.generated_props.update(event_sources.generated(self.b, lid, function.arn, event_name, etype,
                                                                    eprops, report))

    def _sqs_event(self, lid: str, event_name: str, eprops: dict[str, Any],
                   function: model.Function, report: Any) -> None:
        queue_arn = eprops.get("Queue")
        if isinstance(queue_arn, str) and not re.match(r"arn:aws[a-z-]*:sqs:", queue_arn) and \
                (queue_arn.startswith("arn:") or "://" in queue_arn):
            # Caught here, not at deploy: `!Ref MyQueue` is the queue's URL, `!GetAtt Fn.Arn` a function's.
            hint = " (!Ref on a queue gives its URL)" if "://" in queue_arn else ""
            report(("Queue",), f"Queue must be an SQS queue ARN such as !GetAtt MyQueue.Arn, not "
                   f"'{queue_arn}'{hint}", "error")
            return
        queue = self._queue_by_arn(queue_arn)
        checks.check_sqs_mapping(report, eprops, queue.fifo if queue else _fifo_arn(queue_arn))
        self._visibility_check(report, queue, function)
        mapping_lid = f"{lid}{event_name}"
        self.mappings[mapping_lid] = self._mapping(mapping_lid, lid, str(queue_arn), eprops)
        self.generated_props[mapping_lid] = {
            "EventSourceArn": queue_arn, "FunctionName": function.name,
            **{k: v for k, v in eprops.items() if k != "Queue"}}

    def _stream_event(self, lid: str, event_name: str, eprops: dict[str, Any],
                      function: model.Function, report: Any) -> None:
        if streams.check(report, eprops, "Stream") is None:
            return
        mapping_lid = f"{lid}{event_name}"
        self.mappings[mapping_lid] = streams.mapping(mapping_lid, str(self.b.ref_value(mapping_lid)), lid,
                                                     str(eprops["Stream"]), eprops)
        self.generated_props[mapping_lid] = {
            "EventSourceArn": eprops["Stream"], "FunctionName": function.name,
            **{k: v for k, v in eprops.items() if k != "Stream"}}

    def _visibility_check(self, report: Any, queue: model.Queue | None,
                          function: model.Function) -> None:
        if queue is not None and queue.visibility_timeout < function.timeout:
            report(("Queue",), f"Queue visibility timeout: {queue.visibility_timeout} seconds is "
                   f"less than Function timeout: {function.timeout} seconds", "error")

    def _mapping(self, mapping_lid: str, function_lid: str, arn: str,
                 props: Mapping[str, Any]) -> model.EventSourceMapping:
        filters = _d(props.get("FilterCriteria")).get("Filters")
        patterns = []
        for item in filters if isinstance(filters, list) else []:
            pattern = _d(item).get("Pattern")
            if pattern is not None:
                patterns.append(pattern if isinstance(pattern, str) else json.dumps(pattern))
        scaling = _d(props.get("ScalingConfig"))
        return model.EventSourceMapping(
            logical_id=mapping_lid, uuid=str(self.b.ref_value(mapping_lid)), function=function_lid,
            event_source_arn=arn, batch_size=_int(props.get("BatchSize"), 10),
            maximum_batching_window_seconds=_int(props.get("MaximumBatchingWindowInSeconds"), 0),
            enabled=checks.as_bool(props.get("Enabled"), True), filter_patterns=tuple(patterns),
            function_response_types=_strs(props.get("FunctionResponseTypes")),
            maximum_concurrency=checks.as_int(scaling.get("MaximumConcurrency")))

    def _explicit_mapping(self, entry: "Entry") -> None:
        lid = entry.logical_id
        props = entry.resolved or {}
        report = self.report(lid)
        arn = props.get("EventSourceArn")
        function_lid = self._function_by_ref(props.get("FunctionName"))
        if streams.stream_kind(arn) and function_lid is not None:
            if streams.check(report, props, "EventSourceArn") is not None:
                self.mappings[lid] = streams.mapping(lid, str(self.b.ref_value(lid)), function_lid, str(arn), props)
            return
        if not (isinstance(arn, str) and arn.startswith("arn:aws:sqs:")):
            entry.emulated = False
            self.b._warn_not_emulated(lid, "only SQS, DynamoDB Streams and Kinesis event source mappings "
                                      "are emulated; this one "
                                      "is skipped")
            return
        queue = self._queue_by_arn(arn)
        checks.check_sqs_mapping(report, props, queue.fifo if queue else _fifo_arn(arn))
        if function_lid is None:
            report(("FunctionName",), f"FunctionName {props.get('FunctionName')!r} is not a "
                   "function of this stack; the mapping cannot be emulated", "error")
            return
        self._visibility_check(report, queue, self.functions[function_lid])
        self.mappings[lid] = self._mapping(lid, function_lid, arn, props)

    # ------------------------------------------------------------------ function URLs

    def _function_url(self, entry: "Entry", function: model.Function) -> None:
        config = (entry.resolved or {}).get("FunctionUrlConfig")
        if not isinstance(config, dict):
            return
        lid = f"{entry.logical_id}Url"
        self._add_url(lid, entry.logical_id, config)
        self.generated_props[lid] = {"TargetFunctionArn": function.arn, **config}

    def _add_url(self, lid: str, function_lid: str, config: Mapping[str, Any]) -> None:
        cors = _d(config.get("Cors"))
        self.urls[lid] = model.FunctionUrl(
            logical_id=lid, function=function_lid, url_id=self.b.url_id(lid),
            auth_type=str(config.get("AuthType", "NONE")),
            cors=self._cors_v2(cors) if cors else None,
            invoke_mode=str(config.get("InvokeMode", "BUFFERED")))

    def _explicit_url(self, entry: "Entry") -> None:
        props = entry.resolved or {}
        function_lid = self._function_by_ref(props.get("TargetFunctionArn"))
        if function_lid is None:
            self.report(entry.logical_id)(("TargetFunctionArn",), "TargetFunctionArn is not a "
                                          "function of this stack", "error")
            return
        self._add_url(entry.logical_id, function_lid, props)

    @staticmethod
    def _cors_v2(cors: Mapping[str, Any]) -> model.Cors:
        return model.Cors(
            allow_origins=_strs(cors.get("AllowOrigins")), allow_methods=_strs(cors.get("AllowMethods")),
            allow_headers=_strs(cors.get("AllowHeaders")), expose_headers=_strs(cors.get("ExposeHeaders")),
            allow_credentials=checks.as_bool(cors.get("AllowCredentials")),
            max_age=checks.as_int(cors.get("MaxAge")))

    # ------------------------------------------------------------------ APIs

    def _route_event(self, entry: "Entry", event_name: str, etype: str, eprops: dict[str, Any],
                     report: Any) -> None:
        key = "RestApiId" if etype == "Api" else "ApiId"
        target = eprops.get(key)
        implicit = "ServerlessRestApi" if etype == "Api" else "ServerlessHttpApi"
        api_lid: str | None
        if target is None:
            api_lid = implicit
        else:
            raw_target = _d(_d(_d(entry.raw.get("Events")).get(event_name)).get("Properties")).get(key)
            api_lid = raw_target.get("Ref") \
                if isinstance(raw_target, dict) and isinstance(raw_target.get("Ref"), str) else None
            if api_lid is None or api_lid not in self.b.entries:
                api_lid = next((lid for lid in self.b.entries if self.b.entries[lid].type in
                                ("AWS::Serverless::Api", "AWS::Serverless::HttpApi",
                                 "AWS::ApiGateway::RestApi", "AWS::ApiGatewayV2::Api")
                                and self.b.api_id(lid) == target), None)
            if api_lid is None:
                report((key,), f"{key} must refer to an API of this stack (!Ref MyApi)", "error")
                return
            want = ("AWS::Serverless::Api", "AWS::ApiGateway::RestApi") if etype == "Api" else \
                ("AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Api")
            if self.b.entries[api_lid].type not in want:
                report((key,), f"'{api_lid}' is a {self.b.entries[api_lid].type}, not a "
                       f"{' or '.join(want)}", "error")
                return
        method = str(eprops.get("Method", "ANY" if etype == "HttpApi" else "")).upper()
        path = eprops.get("Path")
        if etype == "HttpApi" and path is None and "Method" not in eprops:
            path, method = "$default", "ANY"
        if method == "X-AMAZON-APIGATEWAY-ANY-METHOD":
            method = "ANY"
        if not isinstance(path, str) or (path != "$default" and not path.startswith("/")):
            report(("Path",), f"Path must start with '/': {path!r}", "error")
            return
        auth = _d(eprops.get("Auth"))
        authorizer = auth.get("Authorizer")
        if etype == "Api":
            payload, timeout = "1.0", REST_TIMEOUT_MS
        else:
            payload = "1.0" if str(eprops.get("PayloadFormatVersion", "2.0")) == "1.0" else "2.0"
            timeout = _int(eprops.get("TimeoutInMillis"), HTTP_TIMEOUT_MS)
            if not 50 <= timeout <= 30000:
                report(("TimeoutInMillis",), f"{timeout} is out of range: must be 50-30,000", "error")
        self.routes.setdefault(api_lid, []).append(model.Route(
            method=method, path=path, function=entry.logical_id, event_name=event_name,
            payload_format=payload,
            api_key_required=checks.as_bool(auth["ApiKeyRequired"]) if "ApiKeyRequired" in auth else None,  # type: ignore[arg-type]
            authorizer=authorizer if isinstance(authorizer, str) else "", timeout_ms=timeout))

    def _api(self, entry: "Entry") -> None:
        lid = entry.logical_id
        kind = "rest" if entry.type in ("AWS::Serverless::Api", "AWS::ApiGateway::RestApi") else "http"
        b = self.b
        if entry.generated:
            # The implicit API's properties are the Globals only; resolve them now.
            entry.resolved = b._resolver("Globals", "Globals", ()).resolve(entry.raw)
        props = entry.resolved or {}
        auth = _d(props.get("Auth"))
        report = self.report(lid)
        authorizers = self._authorizers(lid, kind, auth, report)
        default = auth.get("DefaultAuthorizer")
        if isinstance(default, str) and default not in authorizers and default != "AWS_IAM":
            report(("Auth", "DefaultAuthorizer"), f"DefaultAuthorizer '{default}' is not one of "
                   f"Auth.Authorizers ({', '.join(authorizers) or 'none defined'})", "error")
        api_key = checks.as_bool(auth.get("ApiKeyRequired"))
        routes = []
        seen: dict[tuple[str, str], str] = {}
        for route in self.routes.get(lid, []) + self._definition_routes(lid, kind, props):
            name = route.authorizer
            if name == "":
                name = default if isinstance(default, str) else None
            elif name == "NONE":
                name = None
            if name is not None and name not in authorizers and name != "AWS_IAM":
                self.report(route.function, ("Properties", "Events", route.event_name, "Properties"))(
                    ("Auth", "Authorizer"), f"authorizer '{name}' is not defined in {lid}'s "
                    "Auth.Authorizers", "error")
            key = (route.method, route.path)
            if key in seen:
                self.report(route.function, ("Properties", "Events", route.event_name))(
                    (), f"route {route.method} {route.path} of {lid} is already defined by "
                    f"{seen[key]}", "error")
                continue
            seen[key] = f"{route.function}.Events.{route.event_name}"
            required = api_key if route.api_key_required is None else route.api_key_required
            routes.append(model.Route(route.method, route.path, route.function, route.event_name,
                                      route.payload_format, bool(required), name, route.timeout_ms))
        if kind == "rest":
            cors = self._cors_rest(props.get("Cors"))
            stage = b._stage_of(lid) if entry.type == "AWS::Serverless::Api" else \
                raw_apis.stage(self, lid, "Prod")
            variables = _d(props.get("Variables"))
        else:
            cors_config = props.get("CorsConfiguration")
            if cors_config is True or cors_config == "true":
                cors = model.Cors(allow_origins=("*",), allow_methods=("*",), allow_headers=("*",))
            elif isinstance(cors_config, dict):
                cors = self._cors_v2(cors_config)
            else:
                cors = None
            stage = b._stage_of(lid) if entry.type == "AWS::Serverless::HttpApi" else \
                raw_apis.stage(self, lid, "$default")
            variables = _d(props.get("StageVariables"))
        self.apis[lid] = model.Api(
            logical_id=lid, kind=kind, api_id=b.api_id(lid), stage_name=stage, routes=tuple(routes),
            cors=cors, authorizers=authorizers, api_key_required=api_key,
            binary_media_types=_strs(props.get("BinaryMediaTypes")),
            stage_variables={str(k): str(v) for k, v in variables.items()})
        if entry.generated:
            self.generated_props[lid] = {"StageName": stage, "Routes": [
                f"{r.method} {r.path}" for r in routes]}
        for other, gen in b.entries.items():
            if gen.generated and gen.source == lid:
                self.generated_props[other] = {"RestApiId" if kind == "rest" else "ApiId": b.api_id(lid),
                                               "StageName": stage}

    _INTEGRATION_URI = re.compile(r"functions/(.+?)/invocations")

    def _definition_routes(self, lid: str, kind: str, props: Mapping[str, Any]) -> list[model.Route]:
        """Lambda proxy integrations declared in an OpenAPI DefinitionBody (not via events)."""
        paths = _d(_d(props.get("DefinitionBody")).get("paths"))
        taken = {(r.method, r.path) for r in self.routes.get(lid, [])}
        out = []
        for path, methods in paths.items():
            for method, operation in _d(methods).items():
                integration = _d(_d(operation).get("x-amazon-apigateway-integration"))
                uri = integration.get("uri")
                match = self._INTEGRATION_URI.search(uri) if isinstance(uri, str) else None
                if not match or str(integration.get("type", "")).lower() != "aws_proxy":
                    continue
                function = self._function_by_ref(match.group(1))
                verb = "ANY" if method == "x-amazon-apigateway-any-method" else str(method).upper()
                if function is None or (verb, path) in taken:
                    continue
                taken.add((verb, path))
                payload = "1.0" if kind == "rest" else (
                    "1.0" if str(integration.get("payloadFormatVersion", "2.0")) == "1.0" else "2.0")
                out.append(model.Route(
                    method=verb, path=str(path), function=function, event_name="DefinitionBody",
                    payload_format=payload, api_key_required=None,  # type: ignore[arg-type]
                    authorizer="", timeout_ms=REST_TIMEOUT_MS if kind == "rest" else _int(
                        integration.get("timeoutInMillis"), HTTP_TIMEOUT_MS)))
        return out

    def _cors_rest(self, value: Any) -> model.Cors | None:
        if value is None:
            return None
        if isinstance(value, str):
            return model.Cors(allow_origins=_unquote(value))
        cors = _d(value)
        return model.Cors(
            allow_origins=_unquote(cors.get("AllowOrigin")), allow_methods=_unquote(cors.get("AllowMethods")),
            allow_headers=_unquote(cors.get("AllowHeaders")),
            expose_headers=_unquote(cors.get("ExposeHeaders")),
            allow_credentials=checks.as_bool(cors.get("AllowCredentials")),
            max_age=checks.as_int(_unquote(cors.get("MaxAge"))[0]) if _unquote(cors.get("MaxAge")) else
            checks.as_int(cors.get("MaxAge")))

    def _authorizers(self, lid: str, kind: str, auth: Mapping[str, Any], report: Any
                     ) -> dict[str, model.Authorizer]:
        out: dict[str, model.Authorizer] = {}
        for name, spec in _d(auth.get("Authorizers")).items():
            spec = _d(spec)
            identity = _d(spec.get("Identity"))
            arn = spec.get("FunctionArn")
            if arn is None:
                kind_name = "JWT" if "JwtConfiguration" in spec else "COGNITO_USER_POOLS"
                self.b.problems.warning("Resources", lid, ("Properties", "Auth", "Authorizers", name),
                                        f"{kind_name} authorizer '{name}' is not enforced by samlite")
                out[name] = model.Authorizer(name=name, function_arn="", function=None, type=kind_name)
                continue
            function = self._function_by_ref(arn)
            headers = _strs(identity.get("Headers"))
            queries = _strs(identity.get("QueryStrings"))
            sources = tuple(f"header:{h}" for h in headers) + tuple(f"query:{q}" for q in queries)
            ttl = _int(identity.get("ReauthorizeEvery"), 300 if kind == "rest" else 0)
            if kind == "rest":
                payload_type = str(spec.get("FunctionPayloadType", "TOKEN"))
                header = str(identity.get("Header", "Authorization"))
                if payload_type == "TOKEN":
                    sources = (f"header:{header}",)
                out[name] = model.Authorizer(
                    name=name, function_arn=str(arn), function=function, type=payload_type,
                    identity_header=header, identity_sources=sources,
                    validation_expression=identity.get("ValidationExpression"), ttl_seconds=ttl)
            else:
                out[name] = model.Authorizer(
                    name=name, function_arn=str(arn), function=function, type="REQUEST",
                    identity_header=headers[0] if headers else "Authorization",
                    identity_sources=sources or ("header:Authorization",), ttl_seconds=ttl,
                    payload_format=str(spec.get("AuthorizerPayloadFormatVersion", "2.0")),
                    simple_responses=checks.as_bool(spec.get("EnableSimpleResponses")))
        return out

    # ------------------------------------------------------------------ outputs

    def _outputs(self) -> list[model.Output]:
        out = []
        for key, spec in _d(self.b.doc.get("Outputs")).items():
            spec = _d(spec)
            if not self.b._condition_of("Outputs", key, spec.get("Condition")):
                continue
            resolver = self.b._resolver("Outputs", key)
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


def _build_metadata(entry: "Entry") -> dict[str, Any]:
    """SAM's Metadata.BuildMethod and BuildProperties, for the builder."""
    method = entry.metadata.get("BuildMethod")
    props = entry.metadata.get("BuildProperties")
    return {"build_method": method if isinstance(method, str) else None,
            "build_properties": dict(props) if isinstance(props, dict) else {}}
