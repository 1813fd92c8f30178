"""The web console in a real browser: Debian's Chromium, driven by Playwright for Python.

Skipped (with the reason) when /usr/bin/chromium or the playwright package is missing; `.ci/run`
installs both. Screenshots of each page go to $SAMLITE_TEST_ARTIFACTS (default: the test's
tmp_path); docs/console-*.png are copies of them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from durable_console_stack import deploy as deploy_durable

from samlite.testing import EngineHandle

CHROMIUM = Path(os.environ.get("SAMLITE_CHROMIUM", "/usr/bin/chromium"))
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DEADLINE_MS = 15_000  # a deadline for a loaded machine, not a performance figure (bench/ measures those)
SCRIPT = "<script>window.pwned = 1</script>"

if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SAMLITE_TEST_ARTIFACTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_console_in_a_browser(samlite_engine: EngineHandle, browser: Any, artifacts: Path, tmp_path: Path) -> None:
    expect = sync_api.expect
    engine = samlite_engine
    project = tmp_path / "sqs-lambda"
    shutil.copytree(EXAMPLES / "sqs-lambda", project, ignore=shutil.ignore_patterns(".samlite", "__pycache__"))
    engine.deploy(project / "template.yaml", "app")
    console_url = json.loads(engine.cli("console", "--output", "json", check=True).stdout)["url"]

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    # 1. open with the token: the function and the queues are listed
    page.goto(console_url)
    assert "token=" not in page.url  # traded for a cookie, gone from the address bar
    expect(page.locator("#nav-functions")).to_contain_text("ProcessorFunction", timeout=DEADLINE_MS)
    expect(page.locator("#nav-queues")).to_contain_text("MessagesQueue")
    expect(page.locator("#stacks")).to_contain_text("AWS::SQS::Queue")
    page.screenshot(path=str(artifacts / "console-stacks.png"), full_page=True)

    # 2. the function page, live: a second tab sends a message from the queue page
    page.locator("#nav-functions a", has_text="ProcessorFunction").click()
    expect(page.locator("#invoke-button")).to_be_visible(timeout=DEADLINE_MS)
    expect(page.locator("#live")).not_to_have_class("live off", timeout=DEADLINE_MS)
    rows_before = page.locator("#invocations tbody tr").count()

    sender = context.new_page()
    sender.goto(console_url)
    sender.locator("#nav-queues a", has_text="MessagesQueue").click()
    expect(sender.locator("#send-button")).to_be_visible(timeout=DEADLINE_MS)
    expect(sender.locator("#live")).not_to_have_class("live off", timeout=DEADLINE_MS)
    # "fail" makes the example report the message as failed: it stays in flight (visibility 30 s)
    body = f"fail {SCRIPT} from the browser"
    sender.locator("#send-body").fill(body)
    sender.locator("#send-button").click()
    expect(sender.locator("#queue-status")).to_contain_text("sent", timeout=DEADLINE_MS)
    expect(sender.locator("#queue-in-flight")).to_have_text("1", timeout=DEADLINE_MS)
    sender.locator("#peek-button").click()
    expect(sender.locator("#peek")).to_contain_text(SCRIPT, timeout=DEADLINE_MS)
    sender.screenshot(path=str(artifacts / "console-queue.png"), full_page=True)

    # 3. the new invocation and the log line arrive in the first tab without a reload
    expect(page.locator("#log-tail")).to_contain_text("FAILED message", timeout=DEADLINE_MS)
    expect(page.locator("#log-tail")).to_contain_text(body)
    expect(page.locator("#invocations tbody tr")).not_to_have_count(rows_before, timeout=DEADLINE_MS)
    expect(page.locator("#invocations tbody tr").first).to_contain_text("esm")

    # 4. invoke from the page with the generate-event sample
    page.locator("#invoke-sample").select_option(label="sqs receive-message")
    expect(page.locator("#invoke-payload")).to_have_value(re.compile('"Records"'))
    page.locator("#invoke-button").click()
    expect(page.locator("#invoke-result")).to_contain_text("status 200", timeout=DEADLINE_MS)
    expect(page.locator("#invoke-result")).to_contain_text("batchItemFailures")
    expect(page.locator("#invocations tbody tr").first).to_contain_text("console", timeout=DEADLINE_MS)
    page.screenshot(path=str(artifacts / "console-function.png"), full_page=True)

    # 5. the <script> from the function's output (and the queue peek) is text, never run
    assert page.evaluate("window.pwned") is None and sender.evaluate("window.pwned") is None
    assert page.locator("#log-tail script").count() == 0 and sender.locator("#peek script").count() == 0

    # the async events page, with an event that fails and is dropped after its retries
    name = page.locator("#function h2").inner_text()
    engine.client("lambda").invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
    page.locator("header nav a", has_text="Async events").click()
    expect(page.locator("#async")).to_contain_text("dropped", timeout=DEADLINE_MS)
    page.screenshot(path=str(artifacts / "console-async.png"), full_page=True)

    # the data page: a bucket and a table made with boto3, an object key with markup stays text
    s3 = engine.client("s3")
    s3.create_bucket(Bucket="browser-data")
    s3.put_object(Bucket="browser-data", Key=f"in/{SCRIPT}.json", Body=b"{}")
    ddb = engine.client("dynamodb")
    ddb.create_table(TableName="browser-orders", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    ddb.put_item(TableName="browser-orders", Item={"pk": {"S": "order-1"}, "note": {"S": SCRIPT}})
    page.locator("header nav a", has_text="Data").click()
    expect(page.locator("#data")).to_contain_text("browser-data", timeout=DEADLINE_MS)
    expect(page.locator("#data")).to_contain_text("browser-orders")
    page.screenshot(path=str(artifacts / "console-data.png"), full_page=True)
    page.locator("#data a", has_text="browser-orders").click()
    expect(page.locator("#table")).to_contain_text("order-1", timeout=DEADLINE_MS)
    expect(page.locator("#table")).to_contain_text(SCRIPT)
    page.go_back()
    page.locator("#data a", has_text="browser-data").click()
    expect(page.locator("#bucket")).to_contain_text(SCRIPT, timeout=DEADLINE_MS)
    assert page.evaluate("window.pwned") is None and page.locator("#bucket script, #table script").count() == 0

    # 6. without the token the console refuses, in the browser and from elsewhere
    stranger = browser.new_context()
    base = console_url.split("?", 1)[0]
    response = stranger.new_page().goto(base)
    assert response is not None and response.status == 403
    stranger.close()
    assert requests.get(base + "api/overview", timeout=10).status_code == 403
    context.close()


def test_durable_executions_in_a_browser(samlite_engine: EngineHandle, browser: Any, artifacts: Path,
                                         tmp_path: Path) -> None:
    expect = sync_api.expect
    engine = samlite_engine
    function = deploy_durable(engine, tmp_path / "flows")
    lam = engine.client("lambda")
    arn = lam.invoke(FunctionName=function, InvocationType="Event", Payload=b'{"n": 5}',
                     DurableExecutionName="order-5")["DurableExecutionArn"]
    console_url = json.loads(engine.cli("console", "--output", "json", check=True).stdout)["url"]
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(console_url)

    # The Executions page lists it, waiting for its timer; the function's page too.
    page.locator("header nav a", has_text="Executions").click()
    expect(page.locator("#executions")).to_contain_text("order-5", timeout=DEADLINE_MS)
    expect(page.locator("#executions")).to_contain_text("wait cool-off until", timeout=DEADLINE_MS)
    page.screenshot(path=str(artifacts / "console-executions.png"), full_page=True)
    page.locator("#nav-functions a", has_text="OrderFlow").click()
    expect(page.locator("#function-executions")).to_contain_text("order-5", timeout=DEADLINE_MS)

    # Its history; the fire button completes the hour-long wait, and the page follows live.
    page.locator("#function-executions a", has_text="order-5").click()
    expect(page.locator("#history")).to_contain_text("WaitStarted", timeout=DEADLINE_MS)
    expect(page.locator("#history")).to_contain_text("cool-off")
    expect(page.locator("#live")).not_to_have_class("live off", timeout=DEADLINE_MS)
    page.locator("#fire-button").click()
    expect(page.locator("#fire-status")).to_contain_text("fired 1", timeout=DEADLINE_MS)
    expect(page.locator("#history")).to_contain_text("CallbackStarted", timeout=DEADLINE_MS)
    callback_id = next(e["CallbackStartedDetails"]["CallbackId"] for e in lam.get_durable_execution_history(
        DurableExecutionArn=arn)["Events"] if e["EventType"] == "CallbackStarted")
    lam.send_durable_execution_callback_success(CallbackId=callback_id, Result=SCRIPT.encode())
    expect(page.locator("#execution-status")).to_have_text("SUCCEEDED", timeout=DEADLINE_MS)
    expect(page.locator("#execution-result")).to_contain_text(SCRIPT)
    expect(page.locator("#history")).to_contain_text("ExecutionSucceeded")
    page.screenshot(path=str(artifacts / "console-execution.png"), full_page=True)
    expect(page.locator("#execution")).not_to_contain_text("null")  # an absent value is blank, not "null"
    assert page.evaluate("window.pwned") is None and page.locator("#execution script").count() == 0
