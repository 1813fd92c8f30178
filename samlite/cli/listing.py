"""`samlite list stacks|resources|endpoints|outputs|queues|mappings|api-keys|functions`, and what the
moto backend holds: `samlite list buckets|tables|secrets|parameters|streams|topics|state-machines|
user-pools|emails`. `list resources --type` keeps one resource type.

Every listing prints a table to stdout, or with `--output json` a JSON list of objects (the
documented shapes: endpoints carry stack, resource, kind and url; outputs stack, key, value).
"""

from __future__ import annotations

import re
from typing import Any, Callable

import click

from samlite.cli.common import output_option, stack_option
from samlite.client import EngineClient, Rows

# name -> (what fetches the rows from the engine's typed client, columns)
LISTINGS: dict[str, tuple[Callable[[EngineClient, str | None], Rows], tuple[str, ...]]] = {
    "stacks": (lambda c, _: c.deployer.stacks(), ("stack", "status", "resources", "updated", "template")),
    "resources": (lambda c, s: c.deployer.resources(s), ("stack", "logical_id", "type", "physical_id", "status")),
    "endpoints": (lambda c, s: c.deployer.endpoints(s), ("stack", "resource", "kind", "url")),
    "outputs": (lambda c, s: c.deployer.outputs(s), ("stack", "key", "value")),
    "queues": (lambda c, s: c.queues.list_queues(s),
               ("stack", "logical_id", "name", "visible", "in_flight", "delayed", "url")),
    "mappings": (lambda c, s: c.mappings.list_mappings(s),
                 ("stack", "logical_id", "function", "State", "BatchSize", "workers", "invocations")),
    "api-keys": (lambda c, s: c.deployer.api_keys(s), ("stack", "name", "api_id", "value")),
    "functions": (lambda c, s: c.lambdas.functions(s),
                  ("stack", "logical_id", "name", "runtime", "memory_size", "timeout", "durable")),
}


@click.group(name="list")
def list_group() -> None:
    """List what is deployed, and the local URLs to call."""


# moto-backed listings: name -> columns (the engine's `cloud.list(kind)`)
CLOUD_LISTINGS: dict[str, tuple[str, ...]] = {
    "buckets": ("stack", "name", "objects", "bytes", "created"),
    "tables": ("stack", "name", "keys", "items", "stream_arn"),
    "secrets": ("stack", "name", "arn"),
    "parameters": ("stack", "name", "type", "version"),
    "streams": ("stack", "name", "shards", "status", "arn"),
    "topics": ("stack", "name", "subscriptions", "arn"),
    "subscriptions": ("stack", "topic", "protocol", "endpoint", "arn"),
    "rules": ("stack", "name", "bus", "state", "schedule", "targets"),
    "schedules": ("stack", "name", "group", "state", "target"),
    "state-machines": ("stack", "name", "type", "arn"),
    "user-pools": ("stack", "name", "id", "clients"),
    "emails": ("id", "source", "to", "subject"),
}


def _listing(name: str, fetch: Callable[[EngineClient, str | None], Rows], columns: tuple[str, ...]) -> Callable[..., Any]:
    takes_stack = name != "stacks"

    @output_option
    def command(output: str, stack_name: str | None = None, type_name: str | None = None) -> None:
        from samlite import ui
        from samlite.client import connect

        client = connect()
        rows = fetch(client, stack_name)
        if name == "outputs":
            info = client.info()
            rows = [{**row, "value": current_urls(row.get("value"), info)} for row in rows]
        if type_name:  # exact, or the end of the type name: `S3::Bucket`, `Bucket`
            rows = [r for r in rows if r["type"].lower() == type_name.lower()
                    or r["type"].lower().endswith("::" + type_name.lower())]
        if output == "json":
            ui.print_json(rows)
        else:
            ui.print_rows(columns, [[row.get(c) for c in columns] for row in rows])

    command.__doc__ = f"List {name.replace('-', ' ')}."
    if takes_stack:
        command = stack_option(command)
    if name == "resources":
        command = click.option("--type", "type_name", default=None,
                               help="Only resources of this type (AWS::S3::Bucket, S3::Bucket or Bucket).")(command)
    return list_group.command(name=name)(command)


# A local URL saved in an output at deploy time: the gateway's (/_api/, /_url/) or the AWS endpoint's
# (/<account>/queue). The engine may have restarted on other ports since.
_LOCAL_URL = re.compile(r"http://(?:127\.0\.0\.1|localhost|\[::1\]):\d+(?=/(_api/|_url/|\d{12}/))")


def current_urls(value: Any, info: dict[str, Any]) -> Any:
    """An output value with its local URLs pointing at the engine that runs now."""
    if not isinstance(value, str):
        return value
    return _LOCAL_URL.sub(lambda m: info["gateway_url"] if m.group(1).startswith("_") else info["aws_url"], value)


for _name, (_fetch, _columns) in LISTINGS.items():
    _listing(_name, _fetch, _columns)
def _cloud_rows(kind: str) -> Callable[[EngineClient, str | None], Rows]:
    return lambda client, stack: client.cloud.list(kind, stack)


for _name, _columns in CLOUD_LISTINGS.items():
    _listing(_name, _cloud_rows(_name), _columns)
# SAM's name for the same listing.
list_group.add_command(list_group.commands["outputs"], "stack-outputs")
