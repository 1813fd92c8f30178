"""Every real-world template in the shared corpus validates with no errors (warnings are fine)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from samlite.template import load_stack, validate_template
from samlite.template.model import Context

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / ".." / "shared" / "corpus"
TEMPLATES = sorted(p for p in CORPUS.glob("*/template.*") if p.suffix in (".yaml", ".yml", ".json"))

pytestmark = pytest.mark.skipif(not TEMPLATES, reason=f"no corpus at {CORPUS}")


@pytest.mark.parametrize("template", TEMPLATES, ids=[p.parent.name for p in TEMPLATES])
def test_corpus_template_has_no_errors(template: Path) -> None:
    problems = validate_template(template)
    assert [str(p) for p in problems if p.severity == "error"] == []


@pytest.mark.parametrize("template", TEMPLATES, ids=[p.parent.name for p in TEMPLATES])
def test_corpus_template_loads_with_parameter_values(template: Path) -> None:
    # Parameters without defaults get a value, as `deploy --parameter-overrides` would give.
    from samlite.template.loader import load_template

    params = load_template(template).get("Parameters") or {}
    overrides = {k: _value_for(v) for k, v in params.items() if "Default" not in v}
    stack = load_stack(template, Context(stack_name=template.parent.name[:40]), overrides)
    assert stack.functions, "every corpus template has at least one function"
    for resource in stack.resources.values():
        assert resource.physical_id


def _value_for(spec: dict) -> str:
    import re

    if "List" in str(spec.get("Type")):
        return "subnet-1,subnet-2"
    pattern = spec.get("AllowedPattern")
    candidates = ["value1", "someone@example.com"]
    return next((c for c in candidates if not pattern or re.fullmatch(pattern, c)), "value1")


def test_cli_validates_the_whole_corpus() -> None:
    for template in TEMPLATES:
        result = subprocess.run([sys.executable, "-m", "samlite", "validate", "-t", str(template)],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, (template, result.stderr)
        assert "is a valid SAM template" in result.stdout
