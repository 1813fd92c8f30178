"""`samlite dev` as a user runs it: a subprocess watching a copy of a project.

Edits are made to the real files; each assertion polls `samlite invoke` (or the loop's output) to
a deadline. Covers: code edit -> new answer, a syntax error shown while the loop stays alive and
the old code keeps serving, editor litter ignored, a template edit redeployed, logs streamed with
the function's name, Ctrl-C -> exit 0 with the stack still deployed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from samlite.scaffold import STARTERS_DIR
from samlite.testing import EngineHandle, wait_for

STACK = "devapp"


def answer(engine: EngineHandle, project: Path) -> str | None:
    result = engine.cli("invoke", "HelloWorldFunction", "--stack-name", STACK, "--payload", "{}", cwd=project)
    if result.returncode != 0:
        return None
    return json.loads(json.loads(result.stdout)["body"])["message"]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (old, text)
    path.write_text(text.replace(old, new))


def test_dev_loop_hot_swaps_code_and_template(samlite_engine: EngineHandle, tmp_path: Path) -> None:
    engine = samlite_engine
    project = tmp_path / "hello"
    shutil.copytree(STARTERS_DIR / "hello-python", project, ignore=shutil.ignore_patterns(".samlite", "__pycache__"))
    app = project / "src" / "app.py"
    dev = engine.spawn("dev", "--stack-name", STACK, cwd=project, COLUMNS="200")
    try:
        dev.wait_output("Watching", timeout=30)
        assert answer(engine, project) == "hello world"

        # 1. A code edit: the next invokes answer with the new code.
        edit(app, 'f"{greeting} {name}"', 'f"{greeting} {name} v2"')
        wait_for(lambda: answer(engine, project) == "hello world v2", timeout=10, message="v2 answer")

        # 2. A syntax error is shown; nothing is deployed; the loop keeps running.
        mark = len(dev.lines)
        edit(app, "def lambda_handler(event, context):", "def lambda_handler(event, context)")
        dev.wait_output("SyntaxError in src/app.py:7", after=mark)
        dev.wait_output("Not deployed", after=mark)
        assert answer(engine, project) == "hello world v2"

        # 3. Editor litter is ignored; fixing the file deploys again.
        (project / "src" / ".app.py.swp").write_text("swap")
        (project / "src" / "4913").write_text("")
        (project / "src" / "app.py~").write_text("backup")
        edit(app, "def lambda_handler(event, context)", "def lambda_handler(event, context):")
        edit(app, 'f"{greeting} {name} v2"', 'f"{greeting} {name} v3"')
        wait_for(lambda: answer(engine, project) == "hello world v3", timeout=10, message="v3 answer")
        for litter in (".swp", "4913", "app.py~"):
            assert litter not in dev.text

        # 4. A template edit (an environment variable) is redeployed as a diff.
        edit(project / "template.yaml", "GREETING: hello", "GREETING: howdy")
        wait_for(lambda: answer(engine, project) == "howdy world v3", timeout=10, message="template change")

        # 5. Logs of the function stream in the same terminal, named by logical id.
        dev.wait_output("HelloWorldFunction START RequestId:")
        dev.wait_output("HelloWorldFunction REPORT RequestId:")

        # 6. Ctrl-C: exit 0, the stack stays deployed and keeps answering.
        assert dev.interrupt() == 0, dev.text
        assert "stays deployed" in dev.text
        stacks = json.loads(engine.cli("list", "stacks", "--output", "json", check=True).stdout)
        assert STACK in [s["stack"] for s in stacks]
        assert answer(engine, project) == "howdy world v3"
    finally:
        dev.close()


def test_dev_survives_a_broken_template(samlite_engine: EngineHandle, tmp_path: Path) -> None:
    engine = samlite_engine
    project = tmp_path / "hello"
    shutil.copytree(STARTERS_DIR / "hello-python", project, ignore=shutil.ignore_patterns(".samlite", "__pycache__"))
    template = project / "template.yaml"
    dev = engine.spawn("dev", "--stack-name", STACK, cwd=project, COLUMNS="200")
    try:
        dev.wait_output("Watching", timeout=30)
        good = template.read_text()
        mark = len(dev.lines)
        template.write_text(good.replace("Handler: app.lambda_handler", "Handler: [unclosed"))
        dev.wait_output("Error:", after=mark)
        dev.wait_output("Still watching", after=mark)
        assert answer(engine, project) == "hello world"
        template.write_text(good.replace("GREETING: hello", "GREETING: back"))
        wait_for(lambda: answer(engine, project) == "back world", timeout=10, message="recovered template")
        assert dev.interrupt(signal.SIGTERM) == 0, dev.text
    finally:
        dev.close()


def test_dev_with_a_missing_template_fails_clearly(tmp_path: Path) -> None:
    env = {**os.environ, "SAMLITE_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-m", "samlite", "dev", "-t", "nope.yaml"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "template not found" in result.stderr
    empty = subprocess.run([sys.executable, "-m", "samlite", "dev"], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=60)
    assert empty.returncode == 2 and "no template found" in empty.stderr
    assert not (tmp_path / "home" / "engine.json").exists()  # nothing was started
