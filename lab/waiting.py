"""Waiting for a condition, or for one to keep holding: the one poller of every tier (cluster, e2e, integration, bench).

Why one: each deadline in the suite is derived from probe or service settings, and two pollers with different rules
(which errors mean "not yet", what a timeout raises, what it returns) made the same derived bound mean different
things in different tiers. Why tenacity and not a sleep loop: the developer guide's rule (no fixed sleeps), and its
stop/wait/retry pieces say the rule in one expression. The module imports nothing of the lab, so the fast tiers and
the bench use it without kubectl or pytest-kubernetes; `lab.kube` re-exports both functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tenacity import Retrying, retry_if_exception_type, retry_if_result, stop_after_delay, wait_fixed


class Transient(Exception):
    """An answer that may change by the next poll: the condition does not hold yet, or a call failed in passing.

    `wait_for` retries it until the deadline and names the last one when it gives up. `lab.kube.KubectlError` is one
    (an API server briefly busy, a pod replaced under the poll); a predicate raises it to say why it is not done yet.
    """


def wait_for(
    predicate: Callable[[], Any],
    deadline: float,
    interval: float = 1.0,
    what: str = "condition",
    retry_on: tuple[type[BaseException], ...] = (),
) -> Any:  # Any: predicates return `X | None` and the wait returns only the X
    """Poll ``predicate`` until it returns a truthy value (returned) or ``deadline`` seconds pass (AssertionError).

    A `Transient` raised by the predicate, or one of ``retry_on`` (e.g. ``requests.ConnectionError`` while a local
    process is still starting), counts as "not yet"; the AssertionError then names the last one. Any other exception
    ends the wait at once: it is a failure, not a delay.
    """
    retrying = Retrying(
        stop=stop_after_delay(deadline),
        wait=wait_fixed(interval),
        retry=retry_if_result(lambda value: not value) | retry_if_exception_type((Transient, *retry_on)),
        retry_error_callback=lambda state: _timed_out(state, deadline, what),
        reraise=False,
    )
    return retrying(predicate)


def holds(predicate: Callable[[], Any], window: float, interval: float = 1.0) -> bool:
    """True when ``predicate`` stays truthy on every poll for ``window`` seconds; returns False at the first lapse."""
    retrying = Retrying(
        stop=stop_after_delay(window),
        wait=wait_fixed(interval),
        retry=retry_if_result(lambda held: held),
        retry_error_callback=lambda state: bool(state.outcome and state.outcome.result()),
    )
    return bool(retrying(lambda: bool(predicate())))


def _timed_out(state: Any, deadline: float, what: str) -> Any:
    detail = ""
    if state.outcome is not None and state.outcome.failed:
        detail = f" (last error: {state.outcome.exception()})"
    raise AssertionError(f"{what} not reached within {deadline:.0f} s{detail}")
