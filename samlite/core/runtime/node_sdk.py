"""Where the Node runtime's AWS SDK for JavaScript v3 lives, and how functions see it.

Lambda's nodejs18.x and later runtimes ship the v3 SDK (`@aws-sdk/*`) in /var/runtime/node_modules,
behind the function's own node_modules and its layers; the v2 `aws-sdk` is absent. samlite keeps
one copy under the cache dir, pinned to an npm snapshot date (`npm install --before`), so every
`@aws-sdk/*` and `@smithy/*` package comes from the same release. `package.node_sdk` installs
into it what functions import; this module only names the paths.

CommonJS finds the SDK through NODE_PATH (layers first, then the SDK, as on Lambda). ES modules
ignore NODE_PATH: they walk up from the importing file, so the engine links
`<code dir's parent>/node_modules` to the SDK, and the Node bootstrap hides that link from
CommonJS so a layer's copy still wins there.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

# The SDK release the engine pins: npm's registry state at this date (`npm install --before`).
# After December 2025: @aws-sdk/client-lambda has the durable execution commands that
# @aws/durable-execution-sdk-js calls (a bundle that leaves `@aws-sdk/*` external needs them).
NODE_SDK_SNAPSHOT = "2026-06-01"
# Runtimes that ship the v3 SDK.
NODE_SDK_MIN_MAJOR = 18


def node_sdk_root(cache_dir: Path) -> Path:
    """The npm project holding the pinned SDK: `<root>/package.json` and `<root>/node_modules`."""
    return cache_dir / "node-sdk" / NODE_SDK_SNAPSHOT


def link_for_esm(code_dir: Path, home: Path, cache_dir: Path) -> str | None:
    """Make `<code_dir>/../node_modules` point at the SDK, so ES module imports find it.

    Only in a folder the engine owns (under `home`); returns the link's path, or None.
    """
    parent = Path(os.path.realpath(code_dir.parent))
    if not str(parent).startswith(os.path.realpath(home) + os.sep):
        return None
    link = parent / "node_modules"
    target = str(node_sdk_root(cache_dir) / "node_modules")
    with contextlib.suppress(OSError):
        if os.readlink(link) == target:
            return str(link)
    tmp = parent / f".node_modules.{os.getpid()}.tmp"
    try:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(target, tmp)
        os.replace(tmp, link)  # atomic, and replaces a link to an older snapshot
    except OSError:
        return None
    return str(link)
