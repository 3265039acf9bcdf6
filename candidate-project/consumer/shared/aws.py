"""botocore clients and the tenacity retry policy shared by both workers.

Why two layers are not stacked: botocore's own retries are switched off (one attempt per
call) and tenacity owns retrying, so there is one place that decides backoff, one place that
logs each retry, and one place that beats the heartbeat while waiting. Each call is bounded
by connect/read timeouts, which is what lets us compute the longest healthy gap between
heartbeats.

Why botocore and not boto3: ``import boto3`` also imports s3transfer and its
concurrency machinery (about 0.3 s of the start-up under the pods' 500m CPU limit), and
the services only need low-level clients. Why one session per worker: a session loads
the endpoint rules and the service model once; every further client from it costs
milliseconds instead of the ~0.4 s a fresh session pays (measured, docs/decisions.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_when_event_set,
    wait_random_exponential,
)

from .policy import (
    PROBE_CONNECT_TIMEOUT_SECONDS,
    PROBE_READ_TIMEOUT_SECONDS,
    RetryPolicy,
)

T = TypeVar("T")
# Connection refused/reset, timeouts, throttling, 5xx and "not found while the emulator
# restarts" are all worth another try; anything else is a bug and should surface.
# ResponseParserError is not a BotoCoreError: a restarting LocalStack can answer an error status
# with an empty body, which botocore fails to parse (seen in the emulator-deletion fault).
TRANSIENT: tuple[type[BaseException], ...] = (BotoCoreError, ClientError, ResponseParserError)


def new_session() -> botocore.session.Session:
    """A private session for one worker's clients, created on the main thread before any
    worker thread starts (sessions are not thread-safe; the clients made from them are)."""
    return botocore.session.get_session()


def make_client(
    session: botocore.session.Session, service: str, region: str, connect_timeout: float, read_timeout: float
) -> Any:
    """A client with bounded calls and no hidden retries.

    botocore reads ``AWS_ENDPOINT_URL`` itself, so the emulator or real AWS is chosen purely
    by environment.
    """
    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"total_max_attempts": 1, "mode": "standard"},
    )
    return session.create_client(service, region_name=region, config=config)


def make_probe_client(session: botocore.session.Session, service: str, region: str) -> Any:
    return make_client(session, service, region, PROBE_CONNECT_TIMEOUT_SECONDS, PROBE_READ_TIMEOUT_SECONDS)


def error_code(exc: BaseException) -> str:
    """A short, stable name for an AWS failure, for log fields and readiness reasons."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return exc.__class__.__name__


def answered_by(exc: BaseException | None) -> str | None:
    """The ``Server`` header of a failed call's answer, or None when nothing answered.

    Why log it: an error status can come from a peer that is not the emulator (the host network's catch-all proxy
    answers bare 404s, docs/services.md "A pinned connection"); the header tells the two apart in the pod's log.
    """
    if isinstance(exc, ClientError):
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        return str(headers["server"]) if "server" in headers else None
    return None


def drop_connections(*clients: Any) -> None:
    """Close the clients' kept-alive connections after a failed call, so the next call opens a new one.

    Why: botocore reuses a pooled connection for every later call, so a connection opened to the wrong peer fails
    every retry on it, long after a new connection would work. Seen on minikube (docs/services.md, "A pinned
    connection"): a pod's first connection to a Service's ClusterIP left the node before kube-proxy had programmed
    the Service, reached the host network's catch-all proxy, which answers any request with an empty 404 and keeps
    the connection open, and the producer retried on it for minutes while a new connection reached LocalStack.
    ``close`` only empties the pools: the client stays usable and reconnects (new DNS lookup, new NAT) next time.
    """
    for client in clients:
        client.close()


def retry_call(
    fn: Callable[[], T],
    *,
    policy: RetryPolicy,
    stop: threading.Event,
    before_sleep: Callable[[RetryCallState], None],
    clients: Sequence[Any] = (),
) -> T:
    """Call ``fn`` until it succeeds or ``stop`` is set (then the last error is raised).

    The backoff sleep waits on ``stop`` so SIGTERM interrupts it at once; ``before_sleep``
    is where callers beat the heartbeat and log, so an outage of any length stays a
    readiness problem and never a liveness one. ``clients`` are the clients ``fn`` calls:
    each retry starts on new connections (``drop_connections``).
    """

    def sleep(seconds: float) -> None:
        stop.wait(seconds)

    def failed(state: RetryCallState) -> None:
        drop_connections(*clients)
        before_sleep(state)

    retrying = Retrying(
        retry=retry_if_exception_type(TRANSIENT),
        wait=wait_random_exponential(multiplier=policy.initial, max=policy.cap),
        stop=stop_when_event_set(stop),
        sleep=sleep,
        before_sleep=failed,
        reraise=True,
    )
    return retrying(fn)
