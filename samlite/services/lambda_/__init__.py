"""AWS Lambda: functions, the Lambda API, async invocation, event source mappings, tuning."""
