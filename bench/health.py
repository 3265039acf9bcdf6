"""``/health`` latency while the worker is idle and while it is busy, with the same concurrent clients.

Measuring idle too separates what the busy worker costs the health thread from what the shared 2-core machine and
the Python client cost every request; the single-client run shows the latency one kubelet probe actually sees.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests

from bench.measure import percentiles
from lab.processes import Service
from lab.waiting import wait_for


def hammer(service: Service, workers: int, requests_each: int, deadline: float) -> dict:
    """Concurrent ``GET /health``; each worker is bounded by a request count and the shared deadline."""
    end = time.monotonic() + deadline

    def worker() -> tuple[list[float], int]:
        samples, errors = [], 0
        with requests.Session() as session:
            for _ in range(requests_each):
                if time.monotonic() > end:
                    break
                start = time.perf_counter()
                try:
                    ok = session.get(f"{service.url}/health", timeout=2).status_code == 200
                except requests.RequestException:
                    ok = False
                samples.append(time.perf_counter() - start)
                errors += not ok
        return samples, errors

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda _: worker(), range(workers)))
    samples = [s for got, _ in results for s in got]
    return {"workers": workers, "errors": sum(e for _, e in results), "seconds": percentiles(samples)}


def drained(consumer: Service, producer: Service, deadline: float) -> None:
    """Wait until the consumer handled everything ``producer`` published (bounded by ``deadline``)."""
    sent = {e["id"] for e in producer.events("published")}

    def none_missing() -> bool:
        consumer.check_alive()
        return not sent - {e["id"] for e in consumer.events("consumed")}

    wait_for(none_missing, deadline, 0.1, "every published message consumed")


def health_phase(consumer: Service, start_producer: Callable[[], Service], args) -> dict:
    """Idle consumer first; then a fast producer keeps it consuming (shallow queue) while /health is measured."""
    consumer.wait_ready(args.deadline)
    idle = hammer(consumer, args.health_workers, args.health_requests, args.deadline)
    producer = start_producer()
    before = len(consumer.wait_events("consumed", 1, args.deadline))  # busy from here on
    busy = hammer(consumer, args.health_workers, args.health_requests, args.deadline)
    single = hammer(consumer, 1, args.health_requests, args.deadline)
    consumed = len(consumer.events("consumed")) - before
    producer.stop()
    drained(consumer, producer, args.deadline)  # the next phase starts on an empty queue
    return {"idle": idle, "busy": busy, "busy_single_client": single, "consumed_during_busy": consumed}
