"""Golden templates: valid ones resolve to the stored model JSON, invalid ones to the stored errors.

Regenerate after an intended change with `SAMLITE_REGEN_GOLDEN=1 pytest tests/golden` and review
the diff. Paths inside the golden folder are written as `<base>/...`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from samlite.template import load_stack, stack_to_dict, validate_template
from samlite.template.model import Context

HERE = Path(__file__).parent
VALID = sorted((HERE / "valid").glob("*.yaml"))
INVALID = sorted((HERE / "invalid").glob("*.yaml"))
REGEN = bool(os.environ.get("SAMLITE_REGEN_GOLDEN"))
CONTEXT = Context(stack_name="golden", exports={"shared-vpc-id": "vpc-123"})


def _compare(expected_path: Path, actual: Any) -> None:
    if REGEN or not expected_path.exists():
        expected_path.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n")
        if not REGEN:
            pytest.fail(f"{expected_path.name} was missing and has been written; review it")
    assert actual == json.loads(expected_path.read_text())


@pytest.mark.parametrize("template", VALID, ids=[p.stem for p in VALID])
def test_valid_template_resolves_to_golden_model(template: Path) -> None:
    assert [str(p) for p in validate_template(template, CONTEXT) if p.severity == "error"] == []
    stack = load_stack(template, CONTEXT, check_code=True)
    _compare(template.with_suffix(".json"), stack_to_dict(stack, HERE / "valid"))


@pytest.mark.parametrize("template", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_template_reports_golden_errors(template: Path) -> None:
    problems = [p.to_dict() for p in validate_template(template, CONTEXT) if p.severity == "error"]
    assert problems, "an invalid golden template must have errors"
    for problem in problems:
        problem["file"] = Path(problem["file"]).name
    _compare(template.with_suffix(".json"), problems)


def test_goldens_exist() -> None:
    assert len(VALID) >= 4 and len(INVALID) >= 4
