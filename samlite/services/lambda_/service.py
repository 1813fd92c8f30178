"""Deployed functions as Lambda describes them, and `samlite invoke`'s way into the invoke service.

`configuration(name)` builds the AWS `FunctionConfiguration` document (GetFunction,
ListFunctions) from the stored function row: the same data `deploy` wrote, so the API and the
runtime never disagree. `cli_invoke` resolves a logical id, physical name or ARN and runs the
one invocation path (`InvokeService`) with the log tail requested.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from samlite.core.runtime import DEFAULT_RUNTIME
from samlite.errors import NotFoundError, SamliteError, UsageError
from samlite.template.model import stable_id

if TYPE_CHECKING:
    from samlite.config import Settings
    from samlite.core.invoke import InvokeService
    from samlite.core.stacks import StackCatalog
    from samlite.core.store import Store
    from samlite.services.lambda_.esm import EsmManager

_ALNUM_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class ThrottledError(SamliteError):
    """The invocation was throttled (TooManyRequestsException)."""


def iso_ms(ts: float) -> str:
    """Lambda's LastModified format: 2024-05-01T12:00:00.000+0000."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}+0000"


class LambdaService:
    def __init__(self, settings: "Settings", store: "Store", catalog: "StackCatalog", invoker: "InvokeService",
                 esm: "EsmManager", aws_url: str) -> None:
        self.settings = settings
        self.store = store
        self.catalog = catalog
        self.invoker = invoker
        self.functions = invoker.functions
        self.esm = esm
        self.aws_url = aws_url

    # --- reading ---------------------------------------------------------------------------
    def _row(self, name: str) -> Any:
        return self.store.query_one(
            "SELECT name, stack, logical_id, config_json, code_sha, updated_at FROM functions WHERE name = ?",
            (name,))

    def names(self) -> list[str]:
        return [r["name"] for r in self.store.query("SELECT name FROM functions ORDER BY name")]

    def code_zip(self, name: str) -> Path | None:
        """The deployed artifact zip (content-addressed by its sha256, which names the code dir)."""
        row = self._row(name)
        if row is None:
            return None
        code_dir = Path(json.loads(row["config_json"]).get("code_dir", ""))
        path = self.settings.artifacts_dir / f"{code_dir.name}.zip"
        return path if path.is_file() else None

    def configuration(self, name: str) -> dict[str, Any] | None:
        row = self._row(name)
        return _configuration(self.settings, row) if row is not None else None

    def configurations(self) -> list[dict[str, Any]]:
        rows = self.store.query(
            "SELECT name, stack, logical_id, config_json, code_sha, updated_at FROM functions ORDER BY name")
        return [_configuration(self.settings, r) for r in rows]

    def tags(self, name: str) -> dict[str, str]:
        row = self._row(name)
        if row is None:
            return {}
        c = json.loads(row["config_json"])
        tags = dict(c.get("tags") or {})
        # SAM tags every function it creates; CloudFormation adds the stack tags.
        tags.setdefault("lambda:createdBy", "SAM")
        if row["stack"]:
            tags.setdefault("aws:cloudformation:stack-name", row["stack"])
            tags.setdefault("aws:cloudformation:logical-id", row["logical_id"])
        return tags

    # --- control surface -----------------------------------------------------------------
    def cli_functions(self, stack: str | None = None) -> list[dict[str, Any]]:
        if stack is not None:
            self.catalog.require(stack)
        out = []
        models: dict[str, Any] = {}
        for conf in self.configurations():
            row = self._row(conf["FunctionName"])
            if stack is not None and row["stack"] != stack:
                continue
            if row["stack"] not in models:
                models[row["stack"]] = self.catalog.model(row["stack"])
            fn = models[row["stack"]].functions.get(row["logical_id"]) if models[row["stack"]] else None
            out.append({"stack": row["stack"], "logical_id": row["logical_id"], "name": conf["FunctionName"],
                        "arn": conf["FunctionArn"], "runtime": conf["Runtime"], "handler": conf["Handler"],
                        "memory_size": conf["MemorySize"], "timeout": conf["Timeout"],
                        # DurableConfig: "<ExecutionTimeout> s / <RetentionPeriodInDays> d", or None
                        "durable": (f"{conf['DurableConfig']['ExecutionTimeout']} s / "
                                    f"{conf['DurableConfig']['RetentionPeriodInDays']} d")
                        if "DurableConfig" in conf else None,
                        "durable_config": conf.get("DurableConfig"),
                        # where the code runs, and the project folder it came from (for tracebacks)
                        "code_dir": json.loads(row["config_json"]).get("code_dir"),
                        "source": fn.code_uri if fn is not None else None})
        return out

    async def cli_invoke(self, function: str, stack: str | None = None, payload_b64: str | None = None,
                         invocation_type: str = "RequestResponse") -> dict[str, Any]:
        """Invoke by logical id, physical name or ARN; the result with its payload in base64."""
        from samlite.core import invoke as inv

        target = function
        if not function.startswith("arn:") or stack is not None:
            try:
                target = self.catalog.function(function, stack)["name"]
            except NotFoundError:
                if stack is not None or ":" not in function:
                    raise
        try:
            payload = base64.b64decode(payload_b64 or "", validate=True)
        except binascii.Error:
            raise UsageError("the payload must be base64 (internal: samlite invoke sent a bad request)") from None
        try:
            result = await self.invoker.invoke(target, payload, invocation_type=invocation_type,
                                               log_tail=True, source="cli")
        except inv.FunctionNotFound as exc:
            raise NotFoundError(exc.message, hint="`samlite list resources` shows what is deployed.") from None
        except inv.TooManyRequests as exc:
            raise ThrottledError(f"TooManyRequestsException: {exc.message} (Reason: {exc.reason})",
                                 hint="The function's reserved concurrency (or the account limit) is exhausted.") from None
        except inv.EnvironmentWaitTimeout as exc:
            raise ThrottledError(exc.message) from None
        except inv.RequestTooLarge as exc:
            raise UsageError(f"RequestTooLargeException: {exc.message}") from None
        except (inv.InvalidRequestContent, inv.InvalidParameterValue) as exc:
            raise UsageError(f"{type(exc).__name__}: {exc.message}") from None
        spec = self.functions.get(target.split(":")[6] if target.startswith("arn:") else target)
        return {
            "function": spec.name if spec else target,
            "stack": spec.stack if spec else None,
            "status_code": result.status_code,
            "payload_b64": base64.b64encode(result.payload).decode(),
            "function_error": result.function_error,
            "error_type": result.error_type,
            "request_id": result.request_id,
            "executed_version": result.executed_version,
            "log_tail": result.log_tail,
            "durable_execution_arn": result.durable_execution_arn,
        }

    async def cli_tune(self, function: str, stack: str | None = None, payload_b64: str = "",
                       memory_sizes: Any = None, runs: Any = 5) -> dict[str, Any]:
        """Run the function at several memory sizes with Lambda's CPU share each (`samlite tune`)."""
        from samlite.services.lambda_.tuning import tune

        return await tune(self.catalog, self.invoker, function, stack, payload_b64, memory_sizes, runs)


def _configuration(settings: "Settings", row: Any) -> dict[str, Any]:
    """The FunctionConfiguration document Lambda returns for one function."""
    c = json.loads(row["config_json"])
    stack, logical_id = row["stack"], row["logical_id"]
    code_dir = Path(c.get("code_dir", ""))
    artifact_sha = code_dir.name
    zip_path = settings.artifacts_dir / f"{artifact_sha}.zip"
    try:
        code_size = zip_path.stat().st_size
    except OSError:
        code_size = 0
    try:
        code_sha256 = base64.b64encode(bytes.fromhex(artifact_sha)).decode()
    except ValueError:
        code_sha256 = base64.b64encode(bytes.fromhex(row["code_sha"])).decode()
    role = c.get("role") or (f"arn:aws:iam::{settings.account_id}:role/"
                             f"{stack}-{logical_id}Role-{stable_id(f'role/{stack}/{logical_id}', 12, _ALNUM_UPPER)}")
    conf: dict[str, Any] = {
        "FunctionName": c["name"],
        "FunctionArn": c["arn"],
        "Runtime": c.get("runtime") or DEFAULT_RUNTIME,
        "Role": role,
        "Handler": c.get("handler") or "",
        "CodeSize": code_size,
        "Description": c.get("description") or "",
        "Timeout": c.get("timeout", 3),
        "MemorySize": c.get("memory_size", 128),
        "LastModified": iso_ms(row["updated_at"]),
        "CodeSha256": code_sha256,
        "Version": "$LATEST",
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": str(uuid.UUID(row["code_sha"][:32])),
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": c.get("package_type") or "Zip",
        "Architectures": list(c.get("architectures") or ["x86_64"]),
        "EphemeralStorage": {"Size": c.get("ephemeral_storage", 512)},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": c.get("log_format") or "Text", "LogGroup": f"/aws/lambda/{c['name']}"},
    }
    if c.get("environment"):
        conf["Environment"] = {"Variables": dict(c["environment"])}
    dlq = c.get("dead_letter_queue")
    if isinstance(dlq, dict) and dlq.get("arn"):
        conf["DeadLetterConfig"] = {"TargetArn": dlq["arn"]}
    layers = [arn for arn in c.get("layers") or [] if isinstance(arn, str) and arn.startswith("arn:")]
    if layers:
        conf["Layers"] = [{"Arn": arn, "CodeSize": 0} for arn in layers]
    if c.get("application_log_level"):
        conf["LoggingConfig"]["ApplicationLogLevel"] = c["application_log_level"]
    if c.get("durable_execution_timeout") is not None:
        conf["DurableConfig"] = {"ExecutionTimeout": c["durable_execution_timeout"],
                                 "RetentionPeriodInDays": c.get("durable_retention_days") or 14}
    return conf


