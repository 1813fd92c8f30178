"""Engine lifecycle under attack: racing starts, a losing start, stop after a crash and pid reuse,
stop under async load, bad settings and a full disk."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from samlite.testing import EngineHandle, wait_for, write_project

BASIC = Path(__file__).parent / "stacks" / "basic"


def run_cli(env: dict[str, str], *args: str, timeout: float = 60, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "samlite", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return EngineHandle(tmp_path / "home").env


def test_losing_start_leaves_the_running_engine_reachable(samlite_engine: EngineHandle) -> None:
    home = samlite_engine.home
    loser = subprocess.run([sys.executable, "-m", "samlite.engine", "--daemon"], env=samlite_engine.env,
                           capture_output=True, text=True, timeout=30)
    assert loser.returncode != 0
    assert "already running" in loser.stderr
    assert "Traceback" not in loser.stderr
    assert (home / "control.sock").exists() and (home / "engine.json").exists()
    status = samlite_engine.cli("engine", "status", "--output", "json", check=True)
    assert json.loads(status.stdout)["pid"] == samlite_engine.proc.pid
    stopped = samlite_engine.cli("engine", "stop", check=True)
    assert f"pid {samlite_engine.proc.pid}" in stopped.stderr
    samlite_engine.proc.wait(10)


def test_two_engine_starts_at_once(env: dict[str, str]) -> None:
    procs = [subprocess.Popen([sys.executable, "-m", "samlite", "engine", "start", "--output", "json"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        outs = [p.communicate(timeout=60) for p in procs]
        for p, (_, err) in zip(procs, outs):
            assert p.returncode == 0, err
            assert "Traceback" not in err
        pids = {json.loads(out)["pid"] for out, _ in outs}
        assert len(pids) == 1
        assert sorted(json.loads(out)["state"] for out, _ in outs) == ["already running", "started"]
    finally:
        run_cli(env, "engine", "stop")


def test_two_deploys_with_no_engine_both_succeed(env: dict[str, str], tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(BASIC, project)
    procs = [subprocess.Popen([sys.executable, "-m", "samlite", "deploy", "-t", "template.yaml", "--stack-name", f"race{i}",
                               "--no-confirm-changeset"], env=env, cwd=project, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    try:
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
        stacks = run_cli(env, "list", "stacks", "--output", "json")
        assert {s["stack"] for s in json.loads(stacks.stdout)} >= {"race0", "race1"}
    finally:
        run_cli(env, "engine", "stop")


def test_stop_after_a_crash_never_signals_a_reused_pid(samlite_engine: EngineHandle) -> None:
    home = samlite_engine.home
    samlite_engine.kill()
    # engine.json still names the dead engine; pretend its pid now belongs to an unrelated process.
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        info = json.loads((home / "engine.json").read_text())
        (home / "engine.json").write_text(json.dumps({**info, "pid": bystander.pid}))
        status = samlite_engine.cli("engine", "status")
        assert status.returncode == 5
        assert "not running" in status.stderr and "no control socket" not in status.stderr
        assert "stopped without cleaning up" in status.stderr
        stopped = samlite_engine.cli("engine", "stop")
        assert stopped.returncode == 0, stopped.stderr
        assert "not running" in stopped.stderr
        time.sleep(0.2)
        assert bystander.poll() is None, "engine stop signalled a process that is not the engine"
    finally:
        bystander.kill()
        bystander.wait()
    # and a new start works over the stale files
    started = samlite_engine.cli("engine", "start", "--output", "json", check=True)
    assert json.loads(started.stdout)["state"] == "started"
    samlite_engine.cli("engine", "stop", check=True)


@pytest.mark.parametrize("variable,value,needle", [
    ("SAMLITE_AWS_PORT", "70000", "SAMLITE_AWS_PORT"),
    ("SAMLITE_GATEWAY_PORT", "-1", "SAMLITE_GATEWAY_PORT"),
])
def test_bad_port_is_one_clear_line(env: dict[str, str], variable: str, value: str, needle: str) -> None:
    result = run_cli({**env, variable: value}, "engine", "start")
    assert result.returncode == 2
    assert needle in result.stderr and "0-65535" in result.stderr
    assert "Traceback" not in result.stderr


def test_home_too_long_for_a_unix_socket(tmp_path: Path) -> None:
    home = tmp_path / ("x" * 60) / ("y" * 60)
    result = run_cli(EngineHandle(home).env, "engine", "start")
    assert result.returncode == 1
    assert "too long" in result.stderr and "SAMLITE_HOME" in result.stderr
    assert "Traceback" not in result.stderr
    direct = subprocess.run([sys.executable, "-m", "samlite.engine", "--daemon"], env=EngineHandle(home).env,
                            capture_output=True, text=True, timeout=30)
    assert direct.returncode == 1 and "too long" in direct.stderr and "Traceback" not in direct.stderr


def test_read_only_home(tmp_path: Path) -> None:
    home = Path("/proc/samlite-home")  # a file system where nothing can be created, even by root
    result = run_cli(EngineHandle(home).env, "engine", "start")
    assert result.returncode == 1
    assert "SAMLITE_HOME" in result.stderr and str(home) in result.stderr
    assert "Traceback" not in result.stderr


RECORDER = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Recorder:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: recorder
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      Timeout: 10
      Environment:
        Variables:
          OUT_DIR: "{out}"
"""
RECORDER_CODE = """\
import os


def handler(event, context):
    open(os.path.join(os.environ["OUT_DIR"], context.aws_request_id), "w").close()
"""


def test_stop_under_async_load_is_graceful_and_loses_nothing(samlite_engine: EngineHandle, tmp_path: Path) -> None:
    out = tmp_path / "delivered"
    out.mkdir()
    samlite_engine.deploy(write_project(tmp_path / "project", RECORDER.format(out=out),
                                        {"src/app.py": RECORDER_CODE}), "recorder")
    accepted: list[str] = []
    stopping = threading.Event()

    def send() -> None:
        lam = samlite_engine.client("lambda")
        while not stopping.is_set():
            try:
                res = lam.invoke(FunctionName="recorder", InvocationType="Event", Payload=b"{}")
            except Exception:  # noqa: BLE001 - the engine is going away
                return
            if res["StatusCode"] == 202:
                accepted.append(res["ResponseMetadata"]["RequestId"])

    threads = [threading.Thread(target=send) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(accepted) > 1500, timeout=60, message="async load")
        began = time.monotonic()
        stopped = samlite_engine.cli("engine", "stop")
        elapsed = time.monotonic() - began
    finally:
        stopping.set()
        for t in threads:
            t.join(30)
    print(f"engine stop under async load took {elapsed:.2f} s ({len(accepted)} events accepted)")
    assert stopped.returncode == 0, stopped.stderr
    assert elapsed <= 10, f"stop took {elapsed:.1f} s"
    samlite_engine.proc.wait(5)
    assert "engine stopped" in samlite_engine.log_tail(), "the engine was killed, not stopped"
    # Every accepted event was delivered or is still stored; after a restart all are delivered.
    samlite_engine.start()
    wait_for(lambda: set(accepted) <= {p.name for p in out.iterdir()}, timeout=60,
             message="every accepted event delivered after the restart")


@pytest.fixture
def small_disk(tmp_path: Path) -> Any:
    """A 3 MB tmpfs: a real full disk (needs root and mount; skipped otherwise)."""
    mnt = tmp_path / "small-disk"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_disk_full_is_reported_and_reads_keep_working(small_disk: Path) -> None:
    import botocore.exceptions

    handle = EngineHandle(small_disk / "home").start()
    try:
        sqs = handle.client("sqs")
        url = sqs.create_queue(QueueName="fill")["QueueUrl"]
        body = "x" * 200_000
        error = None
        for _ in range(100):
            try:
                sqs.send_message(QueueUrl=url, MessageBody=body)
            except botocore.exceptions.ClientError as exc:
                error = exc
                break
        assert error is not None, "the 3 MB disk never filled"
        assert "disk" in str(error) and "full" in str(error), str(error)
        assert "Internal error" not in str(error)
        # reads still work
        assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert url in sqs.list_queues()["QueueUrls"]
        assert "disk" in handle.log_tail() and "full" in handle.log_tail()
    finally:
        handle.kill()


@pytest.mark.skipif(not Path("/proc/self/limits").exists(), reason="reads /proc/PID/limits")
def test_engine_lifts_a_low_open_file_limit(tmp_path: Path) -> None:
    """Started under a soft limit of 256 open files (macOS's default), the engine runs with more:
    one file per large S3 object and one socket per connection would otherwise hit EMFILE."""
    import resource
    import signal

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip("the hard limit leaves nothing to lift")
    handle = EngineHandle(tmp_path / "home")
    handle.home.mkdir(parents=True)
    proc = subprocess.Popen([sys.executable, "-m", "samlite.engine", "--daemon"], env=handle.env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True,
                            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard)))

    def ready() -> bool:
        try:
            return bool(json.loads((handle.home / "engine.json").read_text()).get("pid") == proc.pid)
        except (OSError, ValueError):  # not written yet, or half written
            return False

    try:
        wait_for(ready, timeout=30, message="the engine")
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
        line = next(x for x in limits.splitlines() if x.startswith("Max open files"))
        running_soft = int(line.split()[3])
        expected = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
        assert running_soft == expected, line
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
