"""`python -m samlite.engine [--daemon]`: run the engine in this process until SIGTERM."""

import sys

from samlite.config import load_settings
from samlite.engine.server import run
from samlite.errors import SamliteError

try:
    run(load_settings(), foreground="--daemon" not in sys.argv)
except SamliteError as exc:
    print(f"Error: {exc.message}" + (f"\n{exc.hint}" if exc.hint else ""), file=sys.stderr)
    sys.exit(int(exc.exit_code))
except KeyboardInterrupt:
    sys.exit(130)
