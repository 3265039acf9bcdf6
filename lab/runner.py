"""The one procedure every catalogue fault runs: traffic, injection, reaction, ledger, timings, report records.

Why one runner: the steps around a fault (a burst of test messages, the wait until the consumer is busy, undoing the
fault even when the test fails, settling the ledger within a deadline from the live settings, the first message
handled after recovery, the mid-batch proof, the record for the report) are the same for every fault, and written
once they cannot drift. The kind-specific part — how to break it and what Kubernetes does — is the fault's
`lab.fault.Injector`. The records returned go to the fault catalogue's ``record_fault``, which asserts their verdict
(`lab.verdict.problems`: detection bound, ledger, and the checks collected here).
"""

from __future__ import annotations

import time

from lab.catalogue import first_consumed_after, in_flight, ledger_of, settle
from lab.fault import Bound, Env, Fault, Reaction, Settled, Traffic, publish
from lab.kube import wait_for
from lab.ledger import Ledger
from lab.report.model import FaultRecord
from lab.report.record import make_record
from lab.trickle import Trickle

IDLE = "no burst message was in flight at the injection: the consumer was idle"


def run_fault(fault: Fault, env: Env) -> list[FaultRecord]:
    """Run ``fault`` once against ``env`` and return one record per app in ``fault.records`` (not yet asserted).

    Waits and failures of the injector's own assertions propagate (the test fails; the catalogue still writes a
    report row for it); everything checked after the reaction is a problem in the returned records.
    """
    start = len(env.logs.test_published)  # the run's messages: whoever publishes them, the follower keeps them
    try:
        prepared = fault.injector.prepare(env, fault)
        if fault.traffic is Traffic.BEFORE:
            publish(env, fault)
        if fault.mid_batch:
            busy(env, env.logs.test_published[start:])
            with Trickle(lambda count: publish(env, fault, count, tag="-t")) as trickle:
                state = fault.injector.inject(env, fault, prepared)
            env.record("trickle", fault=fault.name, batches=trickle.batches, error=repr(trickle.error or ""))
        else:
            state = fault.injector.inject(env, fault, prepared)
        reactions = fault.injector.await_reaction(env, fault, state)
    finally:
        fault.injector.undo(env, fault)
    missing = [app for app in fault.records if app not in reactions]
    if missing:
        raise AssertionError(f"{fault.name}: the injector reported no reaction for {missing}")
    extra = list(env.logs.test_published[start:])
    aws = env.aws if fault.dlq else None
    result = settle(env.logs, extra, time.time(), fault.settle(env.settings), aws=aws, windows=env.windows)
    ledger = ledger_of(env.logs, extra, aws)
    records = []
    for app in fault.records:
        reaction = reactions[app]
        recovery = reaction.recovery
        timed = reaction.first_consumed
        recovery.first_consumed = first_consumed(ledger, app, reaction) if timed is None else timed(ledger)
        checks = list(reaction.checks) + bound_problems(fault, app, reaction)
        notes = list(reaction.notes)
        if reaction.review is not None:
            more_checks, more_notes = reaction.review(Settled(ledger, result, extra))
            checks += more_checks
            notes += more_notes
        notes.append(result.summary())
        if fault.mid_batch and app == "consumer":
            hit = hit_by(ledger, extra, reaction)
            checks += [] if hit else [IDLE]
            notes.append(f"{len(hit)} burst messages in flight")
        records.append(
            make_record(
                fault=fault.record_name(app),
                expected=fault.expected,
                recovery=recovery,
                ledger=ledger,
                result=result,
                logs=env.logs,
                app=app,
                notes="; ".join(notes),
                checks=checks,
            )
        )
    return records


def busy(env: Env, extra: list[dict]) -> None:
    """Wait until the consumer has handled part of the burst: it is mid-batch from here on.

    Deadline: the redelivery bound (`Settings.redelivery`), the longest a published message can take to be handled.
    """
    ids = {e["id"] for e in extra}
    wait_for(
        lambda: ids & set(env.logs.ledger().consumed),
        env.settings.redelivery(),
        interval=0.5,
        what="consumer busy with the burst",
    )


def first_consumed(ledger: Ledger, app: str, reaction: Reaction) -> float | None:
    """When the recovered app handled (consumer) or published (producer) its first message after the restart.

    A restarted producer counts only messages it published itself after the restart (the backlog proves nothing
    about it); a replacement pod counts only what it handled or published itself.
    """
    return first_consumed_after(
        ledger, reaction.recovery.restarted, published_after=app == "producer", pod=reaction.replacement
    )


def hit_by(ledger: Ledger, extra: list[dict], reaction: Reaction) -> list[str]:
    """Burst messages the fault really hit (`lab.catalogue.in_flight`): handled at or after the injection, or by the
    replacement pod. Empty means the burst was over before the fault struck."""
    replacements = [reaction.replacement] if reaction.replacement else []
    return in_flight(ledger, [e["id"] for e in extra], reaction.recovery.injected, replacements)


def bound_problems(fault: Fault, app: str, reaction: Reaction) -> list[str]:
    """The measured bound must be the declared one: present when a bound applies, absent when none does."""
    measured = reaction.recovery.bound
    name = fault.record_name(app)
    if fault.bound is not Bound.NONE and measured is None:
        return [f"{name}: the {fault.bound.name.lower()} bound applies, but the injector measured none"]
    if fault.bound is Bound.NONE and measured is not None:
        return [f"{name}: no bound applies, but the injector set one ({measured:g} s)"]
    return []
