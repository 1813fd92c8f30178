import os


def handler(event, context):
    return {"greeting": os.environ["GREETING"], "event": event, "queue": os.environ["QUEUE_URL"]}
