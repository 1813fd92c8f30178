"""Machinery every service shares: the store, HTTP, SigV4, the AWS endpoint router, the one
invocation path and the runtime that runs function code."""
