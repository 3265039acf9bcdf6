"""The emulator's ceiling: the plainest drain loop (receive 10, batch delete) on T threads, inside the cluster.

Why inside the cluster and not from the test host: from the host every call would cross ``kubectl port-forward``
(API server → kubelet → pod), which is slower than the pod network the consumers use, so the "ceiling" would measure
the forward. The scale-out benchmark runs this file's source with ``python -c`` in a one-off pod of the consumer
image (botocore, as the services ship it, and nothing of the lab; no CPU limit), so it imports only botocore and
the standard library.
It prints one JSON line: how many messages it handled and the rate between the first and the last handled.

Usage: ``python rawdrain.py QUEUE_NAME COUNT THREADS DEADLINE_SECONDS`` (endpoint and credentials from the env).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import botocore.session


def drain(make_client: Any, queue_name: str, count: int, threads: int, deadline: float) -> dict[str, Any]:
    """Receive and delete until ``count`` messages were handled in all or ``deadline`` seconds passed."""
    url = make_client().get_queue_url(QueueName=queue_name)["QueueUrl"]
    lock = threading.Lock()
    handled: list[float] = []
    receives = [0]
    end = time.monotonic() + deadline

    def worker() -> None:
        sqs = make_client()  # one client per thread
        while time.monotonic() < end:
            with lock:
                if len(handled) >= count:
                    return
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
            for message in got:
                json.loads(message["Body"])
            if got:
                entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
                sqs.delete_message_batch(QueueUrl=url, Entries=entries)
            with lock:
                receives[0] += 1
                handled.extend([time.time()] * len(got))

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    span = max(handled) - min(handled) if len(handled) >= 2 else 0.0
    return {
        "threads": threads,
        "messages": len(handled),
        "receives": receives[0],
        "seconds": round(span, 3),
        "rate_per_s": round((len(handled) - 1) / span, 1) if span > 0 else None,
    }


def main(argv: list[str]) -> int:
    queue_name, count, threads, deadline = argv[0], int(argv[1]), int(argv[2]), float(argv[3])
    result = drain(lambda: botocore.session.get_session().create_client("sqs"), queue_name, count, threads, deadline)
    print(json.dumps(result), flush=True)
    return 0 if result["messages"] >= count else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
