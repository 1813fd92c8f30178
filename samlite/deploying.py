"""The deploy pipeline as a library: resolve a project's settings, then load, build, plan and apply.

`samlite deploy`, `dev`, `sync` and `local start-api` all go through here, so samconfig.toml is
read one way and a stack is deployed one way. What is shown and asked is the caller's: it passes
`Prompts` (the CLI's draw with rich and ask on the terminal).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from samlite import samconfig
from samlite.client import EngineClient
from samlite.errors import SamliteError, UsageError
from samlite.package import build_stack
from samlite.pythons import mismatch_warning
from samlite.template import find_template, load_stack, parse_parameter_overrides
from samlite.template.model import Context, Stack, to_dict


@dataclass(frozen=True)
class Project:
    """What a deploy-like command deploys: flags win over samconfig.toml."""

    template_path: Path
    config_path: Path
    stack_name: str | None
    overrides: dict[str, str]
    region: str | None
    confirm: bool | None  # confirm_changeset: None means "ask when in a terminal"


def resolve_project(template: str | None, stack_name: str | None, parameter_overrides: tuple[str, ...] | list[str],
                    config_file: str | None, config_env: str, *, region: str | None = None,
                    confirm: bool | None = None, name_from_folder: bool = False) -> Project:
    """Read samconfig.toml's deploy parameters under the flags. With `name_from_folder`, a project
    without a stack name gets its folder's name (dev, sync), rather than an error later (deploy)."""
    template_path = find_template(template).resolve()
    config_path = samconfig.find_config(template_path.parent, config_file)
    saved = samconfig.read(config_path, config_env, "deploy")
    overrides = samconfig.parse_overrides(saved["parameter_overrides"]) if saved.get("parameter_overrides") else {}
    overrides.update(parse_parameter_overrides(parameter_overrides))
    stack_name = stack_name or saved.get("stack_name") or (default_stack_name(template_path) if name_from_folder
                                                            else None)
    if stack_name:
        check_stack_name(stack_name)
    if confirm is None and "confirm_changeset" in saved:
        confirm = bool(saved["confirm_changeset"])
    return Project(template_path, config_path, stack_name, overrides, region or saved.get("region"), confirm)


def check_stack_name(name: str) -> None:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,127}", name):
        raise UsageError(
            f"invalid stack name {name!r}: 1-128 characters, letters, digits and '-', starting with a letter")


def default_stack_name(template_path: Path) -> str:
    """The project folder's name as a valid stack name (`my_app 2` -> `my-app-2`)."""
    name = re.sub(r"[^A-Za-z0-9-]+", "-", template_path.parent.name).strip("-")
    if not name or not name[0].isalpha():
        name = "sam-app" + (f"-{name}" if name else "")
    return name[:128]


class Prompts(Protocol):
    """What the pipeline shows and asks; `confirm` answers False where nobody can be asked."""

    def plan(self, plan: dict[str, Any]) -> None: ...
    def info(self, message: str) -> None: ...
    def warn(self, message: str) -> None: ...
    def success(self, message: str) -> None: ...
    def interactive(self) -> bool: ...
    def confirm(self, question: str) -> bool: ...


def deploy_stack(client: EngineClient, template_path: Path, stack_name: str, overrides: dict[str, str],
                 confirm: bool | None, prompts: Prompts, execute: bool = True, fail_on_empty: bool = False,
                 force: bool = False) -> dict[str, Any] | None:
    """Load, build, plan, confirm and apply. None when nothing is applied."""
    info = client.info()
    context = Context(stack_name=stack_name, region=info["region"], account_id=info["account_id"],
                      aws_url=info["aws_url"], exports=client.deployer.exports())
    stack = load_stack(template_path, context, overrides, check_code=True)
    for fn in stack.functions.values():
        mismatch = mismatch_warning(fn.runtime)  # a python3.X this machine lacks runs on another version
        if mismatch:
            prompts.warn(f"{fn.logical_id}: {mismatch}")
    artifacts = build_stack(stack)
    for w in artifacts.warnings:
        prompts.warn(f"{w.logical_id}: {w.message}")
    model = to_dict(with_code_digests(with_not_built(stack, artifacts.not_built), artifacts))
    plan = client.deployer.plan(model)
    prompts.plan(plan)
    if not plan["changes"] and fail_on_empty:
        raise SamliteError(f"No changes to deploy. Stack {stack_name} is up to date",
                           hint="--no-fail-on-empty-changeset (samlite's default) exits 0 instead.")
    if not execute:
        prompts.info("Change set not executed (--no-execute-changeset); nothing changed.")
        return None
    risks = what_would_be_lost(client, plan, stack_name, template_path)
    if risks and not force:
        for risk in risks:
            prompts.warn(risk)
        if not prompts.interactive():
            raise SamliteError(f"deploying stack {stack_name} would lose data: " + "; ".join(risks),
                               hint="Pass --force to deploy anyway, or use another --stack-name.")
        if not prompts.confirm("Deploy anyway?"):
            prompts.info("Deployment cancelled; nothing changed.")
            return None
        confirm = False  # just asked
    if confirm is None:
        confirm = prompts.interactive()
    if confirm and plan["changes"] and not prompts.confirm("Deploy this change set?"):
        prompts.info("Deployment cancelled; nothing changed.")
        return None
    payload = [{"logical_id": a.logical_id, "path": str(a.path), "sha256": a.sha256} for a in artifacts]
    result = client.deployer.apply(model, payload)
    for w in result.get("warnings", []):
        prompts.warn(f"{w['logical_id']}: {w['message']}")
    warned = {w["logical_id"] for w in result.get("warnings", [])}
    for s in result.get("skipped", []):
        if s["logical_id"] not in warned:
            prompts.warn(f"{s['logical_id']} ({s['type']}) is not emulated: skipped")
    prompts.success(f"Successfully deployed stack {stack_name}")
    return result


def what_would_be_lost(client: EngineClient, plan: dict[str, Any], stack_name: str, template_path: Path) -> list[str]:
    """What a deploy would silently destroy: another project's stack of the same name (SAM's
    default `sam-app` is shared by every project), or queues that still hold messages."""
    risks = []
    deployed = next((s for s in client.deployer.stacks() if s["stack"] == stack_name), None)
    here = str(template_path.resolve())
    if deployed and deployed.get("template") and deployed["template"] != here:
        risks.append(f"stack {stack_name} was deployed from {deployed['template']}, not {here}: "
                     "this deploy replaces it")
    doomed = {c["logical_id"] for c in plan["changes"]
              if c["type"] == "AWS::SQS::Queue" and (c["action"] == "Remove" or c["replacement"])}
    if doomed:
        for q in client.queues.list_queues(stack_name):
            held = (q.get("visible") or 0) + (q.get("in_flight") or 0) + (q.get("delayed") or 0)
            if q.get("logical_id") in doomed and held:
                risks.append(f"queue {q['logical_id']} ({q['name']}) holds {held} message(s) and would be deleted")
    return risks


def with_not_built(stack: Stack, not_built: dict[str, str]) -> Stack:
    """Mark the functions the build could not make (a toolchain samlite does not emulate): they
    deploy without code, and invoking them returns the reason."""
    if not not_built:
        return stack
    functions = {lid: dataclasses.replace(fn, not_emulated=not_built[lid]) if lid in not_built else fn
                 for lid, fn in stack.functions.items()}
    return dataclasses.replace(stack, functions=functions)


def with_code_digests(stack: Stack, artifacts: list[Any]) -> Stack:
    """Put each artifact's digest into its resource's properties so code-only changes show as Modify."""
    digests = {a.logical_id: a.sha256 for a in artifacts}
    resources = {}
    for lid, res in stack.resources.items():
        if lid in digests:
            res = dataclasses.replace(res, properties={**res.properties, "CodeSha256": digests[lid]})
        resources[lid] = res
    return dataclasses.replace(stack, resources=resources)
