"""moto makes S3 multipart upload ids with os.urandom, outside the seeded random that the
journal's replay relies on: after a restart, a replayed CompleteMultipartUpload (or UploadPart)
named an upload id the replayed CreateMultipartUpload had not drawn, and the object was lost.
moto's S3 module gets an `os` whose urandom draws from moto's seeded random instead."""

from __future__ import annotations

import os
from typing import Any


class _SeededOs:
    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    @staticmethod
    def urandom(size: int) -> bytes:
        from moto.moto_api._internal import mock_random

        return mock_random.randbytes(size)


def install() -> None:
    import moto.s3.models as s3_models

    s3_models.os = _SeededOs()  # type: ignore[assignment]
