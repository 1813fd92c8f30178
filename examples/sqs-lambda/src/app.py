"""Process a batch of SQS messages and report the ones that failed.

With `FunctionResponseTypes: [ReportBatchItemFailures]` only the messages listed in
`batchItemFailures` go back to the queue; the rest of the batch is deleted.
"""

import json


def lambda_handler(event, context):
    failures = []
    for record in event["Records"]:
        body = record["body"]
        if "fail" in body:
            print(f"FAILED message {record['messageId']}: {body}")
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        print(f"processed message {record['messageId']}: {body}")
    print(json.dumps({"batch_size": len(event["Records"]), "failed": len(failures)}))
    return {"batchItemFailures": failures}
