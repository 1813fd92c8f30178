"""One package per AWS service: its state, wire protocol, deploy handlers and event sources."""
