"""The embedded local cloud: one engine process.

Data flow: the CLI loads and validates a template (`samlite.template`) into a frozen
`model.Stack`, builds artifacts (`samlite.package`), and sends both over the control socket
(`control.py`). `deploy.py` plans the diff against the store and applies it in one SQLite
transaction (`store.py`), then refreshes the live services. Every invocation, whatever its
source (CLI, AWS endpoint, gateway, ESM pollers, async dispatcher), goes through
`invoke.InvokeService`, which picks a warm worker from `runtime/` and records logs and metrics.
Only `deploy.apply`, the store and the runtime have side effects.
"""
