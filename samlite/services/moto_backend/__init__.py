"""Every AWS service samlite does not run itself (S3, DynamoDB, Secrets Manager, SSM, Kinesis, ...),
served in-process by moto behind the one AWS endpoint and made durable by a journal."""

from samlite.services.moto_backend.backend import MotoBackend

__all__ = ["MotoBackend"]
