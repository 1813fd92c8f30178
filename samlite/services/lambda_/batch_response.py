"""ReportBatchItemFailures: which records of a batch a function's response names as failed.

The same rules for every event source mapping (SQS message ids, stream sequence numbers).
"""

from __future__ import annotations

import json


def failed_ids(payload: bytes, batch: set[str]) -> set[str] | None:
    """The record ids (message ids, sequence numbers) a response names as failed; None fails all.

    Complete success: empty/null list, `{}`, `null`. Complete failure: invalid JSON, or an
    itemIdentifier that is empty, null, missing (wrong key) or not an id of the batch.
    """
    text = payload.strip() if payload else b""
    if not text:
        return set()
    try:
        response = json.loads(text)
    except ValueError:
        return None
    if response is None:
        return set()
    if not isinstance(response, dict):
        return None
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    out = set()
    for item in failures:
        if not isinstance(item, dict):
            return None
        ident = item.get("itemIdentifier")
        if not isinstance(ident, str) or not ident or ident not in batch:
            return None
        out.add(ident)
    return out
