import os
import time

import boto3

sqs = boto3.client("sqs")


def slow(event, context):
    time.sleep(float(event.get("sleep", 0)))
    return {"slept": event.get("sleep", 0), "tag": event.get("tag")}


def worker(event, context):
    # Slow enough that the poller's parallel batches collide with the concurrency limit of 1.
    time.sleep(0.05)
    for record in event["Records"]:
        count = record["attributes"]["ApproximateReceiveCount"]
        sqs.send_message(QueueUrl=os.environ["DONE_QUEUE_URL"], MessageBody=f"{record['body']}|{count}")
    return {}
