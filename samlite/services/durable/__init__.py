"""Lambda durable functions: durable executions, their checkpoint APIs, replays and timers."""
