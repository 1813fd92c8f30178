"""SQS on the AWS endpoint: the JSON protocol (`AmazonSQS.*`) and the query protocol (`Action=...`)."""

from __future__ import annotations

from functools import partial

from samlite.core.endpoint import ApiService
from samlite.services.sqs import api as json_api
from samlite.services.sqs import query
from samlite.services.sqs.service import QueueService


def api(queues: QueueService) -> ApiService:
    # SQS is the query default: an unsigned `Action=` request is taken as SQS.
    return ApiService("sqs", partial(json_api.handle, queues), targets=("AmazonSQS",),
                      handle_query=partial(query.handle, queues), query_default=True, query_compatible=True)
