"""CloudWatch metrics: Lambda metrics and the CloudWatch API."""
