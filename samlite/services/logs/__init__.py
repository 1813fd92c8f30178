"""CloudWatch Logs: log events of invocations and the Logs API."""
