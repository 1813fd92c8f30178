"""Amazon SQS: durable queues and both wire protocols (JSON and query)."""
