"""The `samlite` command line: click commands that parse, call the library and render.

Each command lives in its own module under `samlite.cli` and is imported only when it runs (or
when its help is shown), so `samlite --help` stays fast. Only `main()` catches errors: a
`SamliteError` prints `Error: ...` plus its hint and exits with its code; anything else is an
internal error whose traceback shows only with `--debug`.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from samlite import __version__
from samlite.errors import ExitCode, SamliteError, TemplateError

# command name -> (module, attribute, one-line help shown by `samlite --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("samlite.cli.init", "init", "Create a project from a starter template."),
    "validate": ("samlite.cli.validate", "validate", "Validate a SAM template offline."),
    "build": ("samlite.cli.build", "build", "Build deterministic zip artifacts."),
    "deploy": ("samlite.cli.deploy", "deploy", "Deploy a stack onto the local engine."),
    "delete": ("samlite.cli.deploy", "delete", "Delete a deployed stack."),
    "invoke": ("samlite.cli.invoke", "invoke", "Invoke a function (deployed, or one-shot from -t)."),
    "send-message": ("samlite.cli.queues", "send_message", "Send a message to a queue."),
    "logs": ("samlite.cli.logs", "logs", "Print or follow function logs."),
    "list": ("samlite.cli.listing", "list_group", "List stacks, resources, endpoints, outputs, queues, mappings, buckets, tables, ..."),
    "dev": ("samlite.cli.dev", "dev", "Deploy, then watch files and hot-swap changes."),
    "sync": ("samlite.cli.dev", "sync", "SAM's sync: one deploy, or with --watch the dev loop."),
    "local": ("samlite.cli.local", "local_group", "SAM's local invoke, start-api, start-lambda, generate-event."),
    "engine": ("samlite.cli.engine", "engine", "Start, stop or inspect the local engine."),
    "console": ("samlite.cli.console", "console", "Print (and open) the local web console's URL."),
    "generate-event": ("samlite.cli.events", "generate_event", "Print sample events."),
    "events": ("samlite.cli.schedules", "events_group", "Fire EventBridge rules and schedules now."),
    "executions": ("samlite.cli.executions", "executions", "List durable executions, show one's history, fire its waits."),
    "metrics": ("samlite.cli.metrics", "metrics", "Invocation metrics and cost per function."),
    "tune": ("samlite.cli.metrics", "tune", "Power-tune a function's memory size."),
}


# SAM CLI commands with no samlite command of that name -> where a SAM user should look instead.
SAM_COMMANDS: dict[str, str] = {
    "package": "samlite needs no S3 upload: `samlite build` makes the zips and `samlite deploy` deploys them",
    "publish": "there is no local Serverless Application Repository; `samlite deploy` deploys the stack",
    "pipeline": "pipelines deploy to real AWS; use `sam pipeline` there",
    "traces": "X-Ray is not emulated; `samlite logs` and `samlite metrics` show every invocation",
    "remote": "the engine is local: `samlite invoke FUNCTION` runs a deployed function, `samlite logs` reads its logs",
    "docs": "`samlite --help` and `samlite COMMAND --help` describe every command",
    "start-api": "use `samlite local start-api`",
    "start-lambda": "use `samlite local start-lambda`",
}

# SAM CLI flags samlite does not take -> why (one line instead of "No such option").
SAM_FLAGS: dict[str, str] = {
    "--profile": "samlite needs no AWS credentials or profiles: the engine is one local account",
    "--s3-prefix": "there is no S3 upload locally: artifacts go straight to the engine",
    "--image-repository": "container image functions are not emulated",
    "--image-repositories": "container image functions are not emulated",
    "--signing-profiles": "code signing has no local meaning",
    "--kms-key-id": "artifacts are not uploaded, so there is nothing to encrypt",
    "--role-arn": "CloudFormation service roles have no local meaning",
    "--notification-arns": "stack events are not published locally",
    "--tags": "stack tags are not kept locally",
    "--disable-rollback": "samlite deploys atomically: a failed deploy always leaves the old stack",
    "--on-failure": "samlite deploys atomically: a failed deploy always leaves the old stack",
    "--env-vars": "only `samlite local invoke` takes it; elsewhere set Environment.Variables in the template",
    "--region": "the engine runs one region (us-east-1 unless SAMLITE_REGION says otherwise)",
    "--config-file": "only deploy, delete, dev and sync read samconfig.toml",
    "--config-env": "only deploy, delete, dev and sync read samconfig.toml",
    "--container-env-vars": "no containers are used locally",
    "--docker-network": "no containers are used locally",
    "--build-image": "no containers are used locally; samlite builds with the local interpreter",
    "--beta-features": "samlite has no beta features switch",
    "--save-params": "`samlite deploy --guided` saves the answers to samconfig.toml",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        entry = COMMANDS.get(name)
        if entry is None:
            return None
        module, attr, _ = entry
        return getattr(importlib.import_module(module), attr)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        if args and args[0] in SAM_COMMANDS and self.get_command(ctx, args[0]) is None:
            raise click.UsageError(f"samlite has no '{args[0]}' command: {SAM_COMMANDS[args[0]]}.")
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help comes from COMMANDS, so `--help` imports no command module.
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="samlite")
@click.option("--debug", is_flag=True, help="Show tracebacks for internal errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """samlite: validate, build and deploy unmodified SAM templates onto an embedded local cloud.

    No AWS account and no Docker. Results go to stdout; progress, tables and logs to stderr.
    Exit codes: 0 ok, 1 error, 2 usage, 3 invalid template, 4 function error,
    5 engine not reachable, 130 interrupted.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug or bool(os.environ.get("SAMLITE_DEBUG"))


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or bool(os.environ.get("SAMLITE_DEBUG"))
    if "--debug" in args[1:]:
        # `samlite deploy --debug` works as well as `samlite --debug deploy`.
        args = ["--debug", *(a for a in args if a != "--debug")]
    args = expand_parameter_overrides(args)
    try:
        cli.main(args=args, prog_name="samlite", standalone_mode=False)
    except TemplateError as exc:
        # Every problem, one per line as `file:line: LogicalId.Path: message`.
        errors = [p for p in exc.problems if getattr(p, "severity", "error") == "error"]
        if len(errors) > 1:
            click.echo(f"Error: the template has {len(errors)} problems:", err=True)
            for problem in errors:
                click.echo(str(problem), err=True)
        else:
            _print_error(exc.message, exc.hint)
        sys.exit(int(exc.exit_code))
    except SamliteError as exc:
        _print_error(exc.message, exc.hint)
        sys.exit(int(exc.exit_code))
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.NoSuchOption as exc:
        reason = SAM_FLAGS.get(exc.option_name)
        if reason is None:
            exc.show()
        else:  # a SAM habit: one line that says why, not a usage dump
            click.echo(f"Error: samlite does not take {exc.option_name}: {reason}.", err=True)
        sys.exit(int(ExitCode.USAGE))
    except click.UsageError as exc:
        if "No such command" in exc.message or "samlite has no" in exc.message:
            click.echo(f"Error: {exc.message}", err=True)  # one line; `samlite --help` lists commands
            if "samlite has no" not in exc.message:
                where = exc.ctx.command_path if exc.ctx else "samlite"
                click.echo(f"Run `{where} --help` for the commands.", err=True)
        else:
            exc.show()
        sys.exit(int(ExitCode.USAGE))
    except click.ClickException as exc:
        exc.show()
        sys.exit(int(ExitCode.USAGE) if isinstance(exc, click.UsageError) else exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # noqa: BLE001 - the one place that catches everything
        if debug:
            import traceback

            traceback.print_exc()
        _print_error(f"internal error: {type(exc).__name__}: {exc}",
                     None if debug else "Run again with --debug for the traceback.")
        sys.exit(int(ExitCode.ERROR))
    sys.exit(0)


def expand_parameter_overrides(args: list[str]) -> list[str]:
    """SAM's `--parameter-overrides A=1 B=2`: each further Key=Value word becomes its own option.

    click takes one value per option, so without this the second pair is "an unexpected extra
    argument". Only words holding `=` are taken, so a positional argument after them still works.
    """
    out: list[str] = []
    taking = False
    words = iter(args)
    for arg in words:
        if arg == "--":
            out.append(arg)
            out.extend(words)
            break
        if taking and "=" in arg and not arg.startswith("-"):
            out += ["--parameter-overrides", arg]
            continue
        taking = False
        out.append(arg)
        if arg == "--parameter-overrides":
            value = next(words, None)
            if value is not None:
                out.append(value)
            taking = True
        elif arg.startswith("--parameter-overrides="):
            taking = True
    return out


def _print_error(message: str, hint: str | None) -> None:
    click.echo(f"Error: {message}", err=True)
    if hint:
        click.echo(f"Hint: {hint}", err=True)
