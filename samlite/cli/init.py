"""`samlite init`: create a project from a starter template (see `samlite.scaffold`)."""

from __future__ import annotations

from pathlib import Path

import click

from samlite.cli.common import output_option


@click.command()
@click.argument("directory", required=False, type=click.Path(file_okay=True, dir_okay=True, path_type=Path))
@click.option("--template", "-t", "template", default=None, metavar="NAME",
              help="The starter to copy; without it, the starters are listed.")
@click.option("--force", is_flag=True, help="Write into a non-empty folder (overwrites the starter's files).")
@output_option
def init(directory: Path | None, template: str | None, force: bool, output: str) -> None:
    """Create a project in DIRECTORY (default: ./NAME) from a starter template.

    \b
    samlite init                               # list the starters
    samlite init my-app --template sqs-lambda  # copy one into ./my-app
    """
    from samlite import scaffold, ui

    if template is None:
        starters = scaffold.list_starters()
        if output == "json":
            ui.print_json([{"name": s.name, "description": s.description} for s in starters])
        else:
            ui.print_rows(["NAME", "DESCRIPTION"], [(s.name, s.description) for s in starters])
            ui.info("Create a project with: samlite init DIR --template NAME")
        return
    starter = scaffold.find_starter(template)
    dest = directory if directory is not None else Path(starter.name)
    files = scaffold.copy_starter(starter, dest, force=force)
    if output == "json":
        ui.print_json({"template": starter.name, "directory": str(dest.resolve()),
                       "files": [str(f) for f in files]})
        return
    ui.success(f"Created {starter.name} project in {dest} ({len(files)} files)")
    ui.info(f"Next steps:\n  cd {dest}\n  samlite validate && samlite build\n"
            "  samlite deploy --guided\n  samlite dev")
    click.echo(str(dest.resolve()))
