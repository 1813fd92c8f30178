"""Packaging: deterministic zip artifacts for functions and layers, and their safe extraction.

`build_stack(stack)` (builder) turns a resolved `model.Stack` into `Artifact`s under
`<project>/.samlite/build/`; `unpack_artifact(zip, dest)` (unpack) is what the engine uses to lay
an artifact out on disk. Submodules are imported lazily so `import samlite.package` stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Artifact", "BuildResult", "build_stack", "unpack_artifact", "write_zip"]


def __getattr__(name: str) -> Any:
    if name in ("Artifact", "BuildResult", "build_stack"):
        from samlite.package import builder

        return getattr(builder, name)
    if name == "unpack_artifact":
        from samlite.package.unpack import unpack_artifact

        return unpack_artifact
    if name == "write_zip":
        from samlite.package.zipper import write_zip

        return write_zip
    raise AttributeError(name)
