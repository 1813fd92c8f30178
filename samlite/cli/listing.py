"""`samlite list stacks|resources|endpoints|outputs|queues|mappings|api-keys|functions`, and what the
moto backend holds: `samlite list buckets|tables|secrets|parameters|streams|topics|state-machines|
user-pools|emails`. `list resources --type` keeps one resource type.

Every listing prints a table to stdout, or with `--output json` a JSON list of objects (the
shapes in DESIGN.md: endpoints carry stack, resource, kind and url; outputs stack, key, value).
"""

from __future__ import annotations

from typing import Any, Callable

import click

from samlite.cli.common import output_option, stack_option

# name -> (service, method, columns)
LISTINGS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "stacks": ("deployer", "stacks", ("stack", "status", "resources", "updated", "template")),
    "resources": ("deployer", "resources", ("stack", "logical_id", "type", "physical_id", "status")),
    "endpoints": ("deployer", "endpoints", ("stack", "resource", "kind", "url")),
    "outputs": ("deployer", "outputs", ("stack", "key", "value")),
    "queues": ("queues", "list_queues", ("stack", "logical_id", "name", "visible", "in_flight", "delayed", "url")),
    "mappings": ("esm", "list_mappings", ("stack", "logical_id", "function", "State", "BatchSize", "workers",
                                          "invocations")),
    "api-keys": ("deployer", "api_keys", ("stack", "name", "api_id", "value")),
    "functions": ("lambdas", "functions", ("stack", "logical_id", "name", "runtime", "memory_size", "timeout")),
}


@click.group(name="list")
def list_group() -> None:
    """List what is deployed, and the local URLs to call."""


# moto-backed listings: name -> columns (the engine's cloud.list(kind))
CLOUD_LISTINGS: dict[str, tuple[str, ...]] = {
    "buckets": ("stack", "name", "objects", "bytes", "created"),
    "tables": ("stack", "name", "keys", "items", "stream_arn"),
    "secrets": ("stack", "name", "arn"),
    "parameters": ("stack", "name", "type", "version"),
    "streams": ("stack", "name", "shards", "status", "arn"),
    "topics": ("stack", "name", "subscriptions", "arn"),
    "state-machines": ("stack", "name", "type", "arn"),
    "user-pools": ("stack", "name", "id", "clients"),
    "emails": ("id", "source", "to", "subject"),
}


def _listing(name: str, service: str, method: str, columns: tuple[str, ...]) -> Callable[..., Any]:
    takes_stack = name != "stacks"

    @output_option
    def command(output: str, stack_name: str | None = None, type_name: str | None = None) -> None:
        from samlite import ui
        from samlite.client import connect

        kwargs = {"stack": stack_name} if takes_stack else {}
        if service == "cloud":
            kwargs["kind"] = name
        rows = connect().call(service, method, **kwargs)
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


for _name, (_service, _method, _columns) in LISTINGS.items():
    _listing(_name, _service, _method, _columns)
for _name, _columns in CLOUD_LISTINGS.items():
    _listing(_name, "cloud", "list", _columns)
