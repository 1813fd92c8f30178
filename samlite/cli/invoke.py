"""`samlite invoke`: invoke a deployed function, or run one once from a template.

The response payload goes to stdout, the log tail (START ... REPORT) to stderr. Exit 4 when the
function raised or timed out (the error payload is still printed), 5 when no engine runs.

With `-t FILE` the template's own local code runs one-shot, as `sam local invoke` does, even when a
deployed stack has a function of the same name (a deployed function runs only when named without
-t): the template is loaded and built, the zip unpacked into a temporary folder, and an in-process
invoke service (temporary store and state dir, no engine) runs it once.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import click

from samlite.cli.common import parameter_overrides_option, stack_option, template_option

MAX_EVENT_BYTES = 6_291_456  # Lambda's synchronous request limit


@click.command()
@click.argument("function")
@stack_option
@click.option("-e", "--event", "event", default=None, metavar="FILE|-",
              help="Event JSON file, or - to read it from stdin.")
@click.option("--payload", default=None, metavar="JSON", help="Event JSON given inline.")
@click.option("--invocation-type", "invocation_type", default="RequestResponse", show_default=True,
              type=click.Choice(["RequestResponse", "Event", "DryRun"]), help="How to invoke, as the Invoke API.")
@template_option
@parameter_overrides_option
def invoke(function: str, stack_name: str | None, event: str | None, payload: str | None, invocation_type: str,
           template: str | None, parameter_overrides: tuple[str, ...]) -> None:
    """Invoke FUNCTION (logical id, physical name or ARN) and print its response.

    \b
    Examples:
      samlite invoke HelloWorldFunction --payload '{"name": "Ada"}'
      samlite invoke HelloWorldFunction -e events/event.json
      echo '{}' | samlite invoke HelloWorldFunction -e -
      samlite invoke HelloWorldFunction -t template.yaml   # one-shot from the local code
    """
    data = read_event(event, payload)
    if template is not None:
        result = one_shot(function, Path(template), data, invocation_type, stack_name, parameter_overrides)
    else:
        from samlite.cli.common import source_paths
        from samlite.client import connect

        client = connect()
        rows = _functions(client, stack_name)
        _warn_python_version(rows, function)
        result = client.lambdas.invoke(function, stack_name, base64.b64encode(data).decode(), invocation_type)
        result["source_paths"] = source_paths(rows)
    render(result)


def _functions(client: Any, stack_name: str | None) -> list[dict[str, Any]]:
    from samlite.errors import SamliteError

    try:
        return client.lambdas.functions(stack_name)
    except SamliteError:
        return []  # an unknown stack: the invoke itself reports it


def _warn_python_version(rows: list[dict[str, Any]], function: str) -> None:
    """Say so when the deployed function's python3.X runtime runs on another Python version."""
    from samlite.cli.common import warn_python_version

    parts = function.split(":")
    name = parts[6] if function.startswith("arn:") and len(parts) > 6 else function  # arn:...:function:NAME[:q]
    for row in rows:
        if name in (row.get("logical_id"), row.get("name")):
            warn_python_version(row["logical_id"], row.get("runtime"))
            return


def read_event(event: str | None, payload: str | None) -> bytes:
    """The event bytes from --payload, -e FILE or -e - (stdin); checked to be JSON and <= 6 MB."""
    from samlite.errors import SamliteError, UsageError

    if event is not None and payload is not None:
        raise UsageError("pass either -e/--event or --payload, not both")
    if payload is not None:
        data, where = payload.encode(), "--payload"
    elif event == "-":
        data, where = sys.stdin.buffer.read(MAX_EVENT_BYTES + 1), "stdin"
    elif event is not None:
        path = Path(event)
        try:
            size = path.stat().st_size
            if size > MAX_EVENT_BYTES:
                raise SamliteError(f"event file {event} is {size} bytes, over Lambda's {MAX_EVENT_BYTES}-byte "
                                   "request limit")
            data = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            raise SamliteError(f"cannot read the event file {event}: {exc.strerror}") from None
        where = event
    else:
        return b"{}"
    if len(data) > MAX_EVENT_BYTES:
        raise SamliteError(f"the event from {where} is over Lambda's {MAX_EVENT_BYTES}-byte request limit")
    if not data.strip():
        return b"{}"
    try:
        json.loads(data)
    except UnicodeDecodeError:
        raise SamliteError(f"the event from {where} is not UTF-8 text") from None
    except ValueError as exc:
        raise SamliteError(f"the event from {where} is not valid JSON: {exc}",
                           hint="Events are JSON documents; `samlite generate-event` prints examples.") from None
    return data


def render(result: dict[str, Any]) -> None:
    """Payload to stdout, log tail to stderr; exit 4 on a function error. Paths of the running copy
    of the code (in tracebacks) are shown as the project's own source folder."""
    from samlite.cli.common import to_source
    from samlite.errors import FunctionError

    paths = result.get("source_paths") or {}
    tail = to_source(result.get("log_tail") or "", paths)
    if tail:
        sys.stderr.write(tail if tail.endswith("\n") else tail + "\n")
        sys.stderr.flush()
    status = result["status_code"]
    if result.get("durable_execution_arn"):  # a durable function: `samlite executions show ARN` has its history
        click.echo(f"Durable execution: {result['durable_execution_arn']}", err=True)
    if status == 202:
        click.echo(f"Accepted: asynchronous invocation queued (202), RequestId: {result['request_id']}", err=True)
        return
    if status == 204:
        click.echo("DryRun: the request is valid (204).", err=True)
        return
    body = base64.b64decode(result["payload_b64"])
    if paths and result.get("function_error"):
        body = to_source(body.decode("utf-8", "replace"), paths).encode()
    out = sys.stdout.buffer
    out.write(body)
    if not body.endswith(b"\n"):
        out.write(b"\n")
    out.flush()
    if result.get("function_error"):
        raise FunctionError(f"function {result.get('function')} failed: {result.get('error_type') or 'Unhandled'}")


def one_shot(function: str, template: Path, data: bytes, invocation_type: str, stack_name: str | None,
             parameter_overrides: tuple[str, ...] = (), env_vars: str | None = None) -> dict[str, Any]:
    """Load + build the template, then run `function` once in a temporary, engine-less runtime.

    `env_vars` is SAM's --env-vars file: {"Parameters": {VAR: value}, "<LogicalId>": {VAR: value}}."""
    import asyncio
    import tempfile

    from samlite.config import load_settings
    from samlite.errors import NotFoundError
    from samlite.package.builder import build_stack
    from samlite.package.unpack import unpack_artifact
    from samlite.template import find_template, load_stack, parse_parameter_overrides
    from samlite.template.model import Context

    settings = load_settings()
    path = find_template(template)
    overrides = parse_parameter_overrides(parameter_overrides) if parameter_overrides else None
    context = Context(stack_name=stack_name or "sam-app", region=settings.region, account_id=settings.account_id,
                      aws_url=_engine_aws_url() or f"http://{settings.host}:{settings.aws_port}")
    stack = load_stack(path, context, parameter_overrides=overrides, check_code=False)
    fn = stack.functions.get(function) or next((f for f in stack.functions.values() if f.name == function), None)
    if fn is None:
        raise NotFoundError(f"function {function!r} is not in {path}",
                            hint=f"Functions in the template: {', '.join(sorted(stack.functions)) or 'none'}.")
    from samlite.cli.common import warn_python_version

    warn_python_version(fn.logical_id, fn.runtime)
    if env_vars is not None:
        import dataclasses

        fn = dataclasses.replace(fn, environment=env_overrides(env_vars, fn.logical_id, dict(fn.environment)))
    built = build_stack(stack)
    if fn.logical_id in built.not_built:
        raise NotFoundError(f"{fn.logical_id}: {built.not_built[fn.logical_id]}")
    artifacts = {a.logical_id: a for a in built}
    if fn.logical_id not in artifacts:
        raise NotFoundError(f"{fn.logical_id}: no artifact was built for this function (S3 code or an image?)")
    with tempfile.TemporaryDirectory(prefix="samlite-invoke-") as tmp:
        home = Path(tmp)
        code_dir = home / "code" / fn.logical_id
        unpack_artifact(artifacts[fn.logical_id].path, code_dir)
        layer_dirs = []
        for lid in fn.layers:
            if lid in artifacts:
                unpack_artifact(artifacts[lid].path, home / "layers" / lid)
                layer_dirs.append(home / "layers" / lid)
        result = asyncio.run(_run_once(settings, home, fn, code_dir, tuple(layer_dirs), context.aws_url, data,
                                       invocation_type, stack.name))
        if fn.code_uri and Path(fn.code_uri).is_dir():
            result["source_paths"] = {f"{code_dir}/": f"{fn.code_uri.rstrip('/')}/"}
        return result


def env_overrides(path: str, logical_id: str, environment: dict[str, str]) -> dict[str, str]:
    """The function's environment with SAM's --env-vars file applied: `Parameters` for every
    function, then the function's own entry. As in SAM, only variables the template declares are
    set; others are named in a warning."""
    from samlite import ui
    from samlite.errors import UsageError

    try:
        doc = json.loads(Path(path).read_text())
    except OSError as exc:
        raise UsageError(f"cannot read --env-vars file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise UsageError(f"--env-vars file {path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not all(isinstance(v, dict) for v in doc.values()):
        raise UsageError(f"--env-vars file {path} must map Parameters or a function's logical id to "
                         '{"VARIABLE": "value"} objects')
    given = {**doc.get("Parameters", {}), **doc.get(logical_id, {})}
    ignored = sorted(k for k in given if k not in environment)
    if ignored:
        ui.warn(f"{logical_id}: --env-vars sets {', '.join(ignored)}, which the template does not declare: ignored")
    out = dict(environment)
    for key, value in given.items():
        if key in environment:
            out[key] = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return out


async def _run_once(settings: Any, home: Path, fn: Any, code_dir: Path, layer_dirs: tuple[Path, ...],
                    aws_url: str, data: bytes, invocation_type: str, stack: str) -> dict[str, Any]:
    import dataclasses

    from samlite.core import invoke as inv
    from samlite.core.runtime import FunctionSpec
    from samlite.core.store import Store
    from samlite.errors import SamliteError, UsageError
    from samlite.template.model import to_dict

    config = {**to_dict(fn), "code_dir": str(code_dir), "layer_dirs": [str(p) for p in layer_dirs], "stack": stack,
              "reserved_concurrency": None}  # a one-shot run is never throttled by its own limit
    spec = FunctionSpec.from_config(config, artifacts_key(code_dir))
    store = Store(home / "state.db")
    service = inv.InvokeService(dataclasses.replace(settings, home=home), store, aws_url, {spec.name: spec})
    await service.start()
    try:
        # A one-shot run has no async queue: an Event invocation runs now and its result is dropped.
        kind = "RequestResponse" if invocation_type == "Event" else invocation_type
        try:
            result = await service.invoke(spec.name, data, invocation_type=kind, log_tail=True, source="cli")
        except (inv.RequestTooLarge, inv.InvalidRequestContent, inv.InvalidParameterValue) as exc:
            raise UsageError(exc.message) from None
        except inv.TooManyRequests as exc:
            raise SamliteError(f"TooManyRequestsException: {exc.message} ({exc.reason})") from None
    finally:
        await service.stop()
        store.close()
    status = 202 if invocation_type == "Event" else result.status_code
    return {"function": spec.name, "stack": stack, "status_code": status,
            "payload_b64": base64.b64encode(result.payload).decode(), "function_error": result.function_error,
            "error_type": result.error_type, "request_id": result.request_id,
            "executed_version": result.executed_version, "log_tail": result.log_tail}


def artifacts_key(code_dir: Path) -> str:
    import hashlib

    return hashlib.sha256(str(code_dir).encode()).hexdigest()


def _engine_aws_url() -> str | None:
    """The running engine's AWS endpoint, so a one-shot function's boto3 calls still reach it."""
    from samlite.config import load_settings

    try:
        info = json.loads(load_settings().engine_json.read_text())
        return str(info["aws_url"])
    except (OSError, ValueError, KeyError):
        return None
