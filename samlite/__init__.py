"""samlite: a mini AWS SAM CLI with an embedded local cloud (no AWS account, no Docker)."""

__version__ = "0.1.0"
