"""samconfig.toml in SAM's own format: read with precedence, write guided answers.

Tables are `[<env>.<command>.<section>]`; keys are CLI option names with `-` -> `_`. Precedence:
CLI flag > `[env.command.parameters]` > `[env.global.parameters]`.
"""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path
from typing import Any

from samlite.errors import UsageError

DEFAULT_FILE = "samconfig.toml"
DEFAULT_ENV = "default"


def find_config(project_dir: Path, config_file: str | None) -> Path:
    if config_file:
        path = Path(config_file)
        return path if path.is_absolute() else (Path.cwd() / path)
    for name in ("samconfig.toml", "samconfig.yaml", "samconfig.yml"):
        if (project_dir / name).exists():
            return project_dir / name
    return project_dir / DEFAULT_FILE


def read(path: Path, env: str, command: str) -> dict[str, Any]:
    """The merged parameters for `command` in `env` (global first, command on top)."""
    if not path.exists():
        return {}
    import yaml  # here: most commands never read a YAML samconfig

    try:
        if path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(path.read_text()) or {}
        else:
            data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: not a valid SAM configuration file: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not a valid SAM configuration file")
    section = data.get(env, {})
    if not isinstance(section, dict):
        return {}
    merged: dict[str, Any] = {}
    for cmd in ("global", command.replace(" ", "_").replace("-", "_")):
        params = section.get(cmd, {}).get("parameters", {}) if isinstance(section.get(cmd), dict) else {}
        if isinstance(params, dict):
            merged.update(params)
    return merged


def parse_overrides(value: Any) -> dict[str, str]:
    """`parameter_overrides` as SAM writes it (`K="V" K2="V2"`) or as a TOML list."""
    items = value if isinstance(value, list) else shlex.split(str(value))
    out: dict[str, str] = {}
    for item in items:
        key, sep, val = str(item).partition("=")
        if not sep:
            raise UsageError(f"samconfig parameter_overrides item {item!r} is not Key=Value")
        out[key] = val
    return out


def format_overrides(values: dict[str, str]) -> str:
    return " ".join(f'{k}="{_escape(v)}"' for k, v in values.items())


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def write_deploy(path: Path, env: str, params: dict[str, Any]) -> None:
    """Write (or update) `[env.deploy.parameters]` and the global region, keeping other tables."""
    import tomli_w

    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            data = {}
    data["version"] = 0.1
    section = data.setdefault(env, {})
    # Falsy answers are not written, except confirm_changeset: samlite asks by default in a
    # terminal, so a "no" must be kept for later deploys to honour it (SAM reads `false` as well).
    section["deploy"] = {"parameters": {k: v for k, v in params.items()
                                        if v not in (None, False, "") or k == "confirm_changeset" and v is False}}
    if params.get("region"):
        section.setdefault("global", {}).setdefault("parameters", {})["region"] = params["region"]
    ordered = {"version": data.pop("version"), **data}
    path.write_text(tomli_w.dumps(ordered))
