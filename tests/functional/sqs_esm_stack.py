"""The `stacks/sqs_esm` test stack, shared by test_esm.py and test_async.py."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from samlite.testing import EngineHandle

STACK_DIR = Path(__file__).parent / "stacks" / "sqs_esm"
STACK = "esm"


def deploy(handle: EngineHandle, tmp: Path) -> None:
    project = tmp / "project"
    if not project.exists():
        shutil.copytree(STACK_DIR, project)
    handle.deploy(project / "template.yaml", STACK)


def deployed_engine(handle: EngineHandle, tmp_path_factory: pytest.TempPathFactory) -> EngineHandle:
    deploy(handle, tmp_path_factory.mktemp("sqs-esm"))
    return handle


def queue_url(sqs: Any, logical_id: str) -> str:
    [url] = sqs.list_queues(QueueNamePrefix=f"{STACK}-{logical_id}-")["QueueUrls"]
    return url
