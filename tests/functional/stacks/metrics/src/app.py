"""Handlers for the metrics tests: `work` succeeds or raises on demand, `spin` burns CPU."""


def work(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"ok": True}


def spin(event, context):
    # A fixed amount of CPU work (about 60-100 ms on one core), so duration tracks the CPU share.
    total = 0
    for i in range(int(event.get("n", 1_500_000))):
        total += i
    return {"total": total}
