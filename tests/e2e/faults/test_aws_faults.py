"""Faults in single AWS operations, injected by faultproxy between the services and LocalStack (issue 9, item 2).

``faultproxy_route`` routes both services through the proxy; every fault is set for a ``with`` block
(`lab.faultcontrol.FaultProxy.fault`, held by the injector: `lab.fault.Held`), which removes it, proves none is left
and returns its counters: each fault asserts it fired (``injected`` > 0) and that the services' logs account for
every injection. None of these faults may restart or unready a service: liveness is the worker's heartbeat, which
every retry beats, and readiness asks GetTopicAttributes / GetQueueUrl, which are not faulted. Checked three ways:
``holds`` over the fault window, the pod's restartCount and Ready lastTransitionTime unchanged afterwards, and the
longest gap between the worker's own events against HEARTBEAT_MAX_AGE_SECONDS.

- ``sns:Publish`` throttled: every throttled call is one ``publish_retry`` (error ``Throttling``) of the same id and
  seq, later published: no sequence gap, nothing lost.
- ``sqs:DeleteMessageBatch`` HTTP 500: the consumer retries the delete (a 500 is transient) until it passes, so the
  batch is *not* redelivered, even when the 500s outlast its VisibilityTimeout: LocalStack honours the old receipt
  handles of a message nobody received again (docs/faults-network-aws.md, measured section).
- ``sqs:DeleteMessageBatch`` partial: the failed entries are not retried; they come back after the VisibilityTimeout
  and are exactly the ledger's new duplicates. Bound: `Settings.redelivery()` (visibility + long poll + slack).
The procedure is `lab.runner.run_fault`; `Throttle`, `DeleteFails` and `DeletePartly` are the injectors.
"""

import time

import pytest

from lab.aws import QUEUE
from lab.awsfaults import app_events, consumer_batches, longest_gap, redelivery_delays, steady
from lab.catalogue import first_consumed_after
from lab.detection import liveness_failures
from lab.fault import Env, Fault, Held, Reaction, Settled, Traffic, publish, redelivery
from lab.kube import holds, wait_for
from lab.probes import RESTART_SLACK_SECONDS
from lab.runner import run_fault
from lab.services import live_config
from lab.timeline import Recovery
from lab.verdict import DETECTION_TOLERANCE_SECONDS

SEED = 7  # fixed: the same hits and misses on every run (faultproxy draws per fault from its seed)
THROTTLE_RATE = 0.5
PARTIAL_RATE = 0.3
BURST = 30  # three receives of 10: enough entries for a 0.3 partial fault to fail several


def untouched(lab, app: str, before: tuple, since: float, beats: list[float], until: float) -> list[str]:
    """The problems if ``app`` was restarted, replaced or NotReady, or its heartbeat went stale in the window."""
    pod = lab.kube.pod(app)
    checks = [] if steady(pod, app) == before else [f"{app}: restarted, replaced or NotReady: {steady(pod, app)}"]
    checks += liveness_failures(lab.kube.json("get", "events")["items"], [before[0]], since)
    gap, limit = longest_gap(beats, since, until), lab.heartbeat_max_age(app)
    return checks + (
        [f"{app}: no worker event for {gap:.1f} s (heartbeat max age {limit:g} s)"] if gap >= limit else []
    )


def lifted_after(lifted: float, published_after: bool = False):
    """The first message handled after the fault was lifted (a producer's: published after it too)."""
    return lambda ledger: first_consumed_after(ledger, lifted, published_after)


class Throttle(Held):
    """``sns:Publish`` throttled at THROTTLE_RATE for the producer's readiness bound."""

    def prepare(self, env: Env, fault: Fault):
        before = steady(env.lab.kube.pod("producer"), "producer")
        return before, env.lab.probe("producer", "readinessProbe").unready_deadline()  # NotReady would show within

    def inject(self, env: Env, fault: Fault, prepared):
        injected = time.time()  # before the fault is set: no injection can precede it
        return prepared, injected, self.hold(env.proxy.fault("sns:Publish", "throttle", THROTTLE_RATE, SEED))

    def await_reaction(self, env: Env, fault: Fault, state) -> dict[str, Reaction]:
        (before, window), injected, fired = state
        lab, logs, texts = env.lab, env.logs, env.logs.generation_texts
        kept = holds(lambda: steady(lab.kube.pod("producer"), "producer") == before, window)
        self.lift()
        lifted = time.time()
        assert fired.injected > 0, f"no publish throttled in {window:g} s: {fired.counters}"

        def logged():  # the follower's files may trail the last injection by a moment
            found = app_events(texts(), "producer", injected, "publish_retry")
            return found if len(found) >= fired.injected else None

        retries = wait_for(logged, RESTART_SLACK_SECONDS, what=f"{fired.injected} publish_retry events")
        # A message still in its backoff when the fault was lifted is sent within one wait (retry cap) and one call.
        producer = live_config(lab, "producer")
        retried = {r["id"] for r in retries}
        wait_for(
            lambda: retried <= set(logs.ledger().published),
            producer.retry.cap + producer.call_bound + RESTART_SLACK_SECONDS,
            what="every throttled message published",
        )
        wait_for(
            lambda: first_consumed_after(logs.ledger(), lifted, published_after=True),
            env.settings.redelivery(),
            what="a message published after the fault consumed",
        )

        def review(settled: Settled) -> tuple[list[str], list[str]]:
            beats = [e["_t"] for e in app_events(texts(), "producer", injected, "published", "publish_retry")]
            checks = [] if kept else [f"producer left its steady state within the {window:g} s window"]
            checks += untouched(lab, "producer", before, injected, beats, lifted)
            checks += [
                f"publish_retry error {r.get('error')}, expected Throttling"
                for r in retries
                if r["error"] != "Throttling"
            ]
            if len(retries) != fired.injected:
                checks.append(f"{len(retries)} publish_retry events for {fired.injected} throttled calls")
            published = settled.ledger.published
            unsent = [r["id"] for r in retries if published.get(r["id"], {}).get("seq") != r["seq"]]
            checks += [f"retried messages never published with their seq: {sorted(set(unsent))[:5]}"] if unsent else []
            notes = (
                f"rate {THROTTLE_RATE} seed {SEED} for {lifted - injected:.1f} s: {fired.injected} of {fired.matched} "
                f"Publish calls throttled, {len(retries)} publish_retry (Throttling), {len(retried)} messages "
                f"retried; longest worker gap {longest_gap(beats, injected, lifted):.1f} s"
            )
            return checks, [notes]

        recovery = Recovery(fault.name, injected=injected)
        return {"producer": Reaction(recovery, review=review, first_consumed=lifted_after(lifted, True))}


class DeleteFails(Held):
    """``sqs:DeleteMessageBatch`` answered 500 until a batch's VisibilityTimeout passed; the retry must delete it."""

    def prepare(self, env: Env, fault: Fault):
        return steady(env.lab.kube.pod("consumer"), "consumer"), live_config(env.lab, "consumer")

    def inject(self, env: Env, fault: Fault, prepared):
        injected = time.time()
        fired = self.hold(env.proxy.fault("sqs:DeleteMessageBatch", "error500", 1.0, SEED))
        publish(env, fault)
        return prepared, injected, fired

    def await_reaction(self, env: Env, fault: Fault, state) -> dict[str, Reaction]:
        (before, config), injected, fired = state
        lab, settings, texts, aws = env.lab, env.settings, env.logs.generation_texts, env.aws

        def stuck():
            batches = consumer_batches(texts(), injected)
            return next((b for b in batches if b.source == before[0] and b.retries and not b.closed_at), None)

        batch = wait_for(stuck, settings.receive_wait + RESTART_SLACK_SECONDS, what="a batch delete failing")
        # Hold the 500s past the batch's VisibilityTimeout: the undeleted batch turns visible again in the queue.
        kept = holds(lambda: steady(lab.kube.pod("consumer"), "consumer") == before, settings.visibility)
        not_visible = lambda: int(aws.queue_attributes(QUEUE)["ApproximateNumberOfMessagesNotVisible"]) == 0  # noqa: E731
        wait_for(not_visible, RESTART_SLACK_SECONDS, what="the stuck batch visible again")
        requeued = time.time()
        self.lift()
        lifted = time.time()
        bound = config.longest_beat_gap + RESTART_SLACK_SECONDS  # the retry's next call comes within one beat gap

        def closed():
            return next((b for b in consumer_batches(texts(), injected) if b.ids == batch.ids and b.closed_at), None)

        done = wait_for(closed, bound, what="the retried delete of the stuck batch")

        def review(settled: Settled) -> tuple[list[str], list[str]]:
            events = [
                e["_t"] for e in app_events(texts(), "consumer", injected, "consumed", "consume_retry", "deleted")
            ]
            checks = [] if kept else ["consumer left its steady state while its deletes failed"]
            checks += untouched(lab, "consumer", before, injected, events, lifted)
            checks += [
                f"delete retry error {r.get('error')}" for r in done.retries if r.get("error") != "InternalFailure"
            ]
            if len(done.retries) != fired.injected:
                checks.append(f"{len(done.retries)} delete retries logged for {fired.injected} injected 500s")
            if done.deleted != len(done.ids):
                checks.append(
                    f"the retried delete removed {done.deleted} of {len(done.ids)} (delete_failed: {done.failed})"
                )
            redelivered = [i for i, delay in redelivery_delays(settled.ledger, done.ids).items() if delay is not None]
            checks += [f"redelivered although the retried delete passed: {redelivered}"] if redelivered else []
            notes = (
                f"rate 1 for {lifted - injected:.1f} s: {fired.injected} of {fired.matched} deletes answered 500; "
                f"batch of {len(done.ids)} received {batch.consumed_at - injected:.1f} s in, visible again after "
                f"{requeued - batch.consumed_at:.1f} s (VisibilityTimeout {settings.visibility:g} s), deleted by the "
                f"retry {done.closed_at - lifted:.1f} s after the fault was lifted (bound {bound:g} s); redelivered "
                f"{len(redelivered)}"
            )
            return checks, [notes]

        recovery = Recovery(fault.name, injected=injected)
        return {"consumer": Reaction(recovery, review=review, first_consumed=lifted_after(lifted))}


class DeletePartly(Held):
    """``sqs:DeleteMessageBatch`` failing PARTIAL_RATE of its entries while the burst is consumed once."""

    def prepare(self, env: Env, fault: Fault):
        return steady(env.lab.kube.pod("consumer"), "consumer")

    def inject(self, env: Env, fault: Fault, before):
        injected = time.time()
        fired = self.hold(env.proxy.fault("sqs:DeleteMessageBatch", "partial", PARTIAL_RATE, SEED))
        return before, injected, fired, {e["id"] for e in publish(env, fault)}

    def await_reaction(self, env: Env, fault: Fault, state) -> dict[str, Reaction]:
        before, injected, fired, ids = state
        logs, settings, texts = env.logs, env.settings, env.logs.generation_texts
        first = settings.receive_wait + RESTART_SLACK_SECONDS  # failed entries come back only after the visibility
        wait_for(lambda: ids <= set(logs.ledger().consumed), first, what="the burst consumed once")
        self.lift()
        lifted = time.time()
        assert fired.injected > 0, f"no delete entry failed: {fired.counters}"

        def failures():  # every delete_failed since the injection is this fault's (also one answered after the lift)
            found = consumer_batches(texts(), injected)
            batches = [b for b in found if b.source == before[0] and b.consumed_at <= lifted and b.closed_at]
            failed = [msg_id for b in batches for msg_id in b.failed]
            return (batches, failed) if len(failed) >= fired.injected else None

        batches, failed = wait_for(failures, RESTART_SLACK_SECONDS, what=f"{fired.injected} failed entries logged")
        last = max(b.closed_at or lifted for b in batches if b.failed)
        wait_for(
            lambda: all(d is not None for d in redelivery_delays(logs.ledger(), failed).values()),
            settings.redelivery() - (time.time() - last),
            what=f"{len(failed)} failed deletes redelivered",
        )

        def review(settled: Settled) -> tuple[list[str], list[str]]:
            ledger = settled.ledger
            delays = redelivery_delays(ledger, failed)
            events = [e["_t"] for e in app_events(texts(), "consumer", injected, "consumed", "deleted")]
            checks = untouched(env.lab, "consumer", before, injected, events, time.time())
            if len(failed) != fired.injected:
                checks.append(f"{len(failed)} failed entries logged for {fired.injected} injected")
            earliest, bound = settings.visibility - DETECTION_TOLERANCE_SECONDS, settings.redelivery()
            checks += [
                f"{m} redelivered after {d} s, outside [{earliest:g}, {bound:g}]"
                for m, d in delays.items()
                if d is None or not earliest <= d <= bound
            ]
            again = {m: sorted(e.get("_t") or 0.0 for e in events) for m, events in ledger.deliveries.items()}
            new = {m for m, times in again.items() if len(times) > 1 and times[1] >= injected}  # redelivered since
            if new != set(failed) or any(ledger.consumed[m] != 2 for m in failed):
                checks.append(f"duplicates {sorted(new)} are not exactly the failed deletes {sorted(failed)}")
            values = sorted(d for d in delays.values() if d is not None)
            notes = (
                f"rate {PARTIAL_RATE} seed {SEED}: {fired.injected} of the entries of {fired.matched} deletes failed "
                f"(in {sum(1 for b in batches if b.failed)} of {len(batches)} batches), all logged as delete_failed; "
                f"redelivered after {values[0]:.1f}-{values[-1]:.1f} s (VisibilityTimeout {settings.visibility:g} s, "
                f"bound {bound:g} s)"
                if values
                else f"{fired.injected} failed entries, none redelivered"
            )
            return checks, [notes]

        recovery = Recovery(fault.name, injected=injected)
        return {"consumer": Reaction(recovery, review=review, first_consumed=lifted_after(lifted))}


FAULTS = [
    Fault(
        "sns:Publish throttled (faultproxy)",
        ("producer",),
        Throttle(),
        "publish retried (Throttling), same seq, no gap; nothing lost; no restart, no NotReady",
        burst=0,
        traffic=Traffic.INJECTOR,  # the producer's own publishes are what the fault hits
        settle=redelivery,
    ),
    Fault(
        "sqs:DeleteMessageBatch HTTP 500 (faultproxy)",
        ("consumer",),
        DeleteFails(),
        "delete retried (InternalFailure) until it passes; batch deleted late, not redelivered; no restart",
        burst=10,
        traffic=Traffic.INJECTOR,  # published with the fault in place
        settle=redelivery,
    ),
    Fault(
        "sqs:DeleteMessageBatch partial failure (faultproxy)",
        ("consumer",),
        DeletePartly(),
        "failed entries logged (delete_failed), redelivered after VisibilityTimeout as duplicates; none lost",
        burst=BURST,
        traffic=Traffic.INJECTOR,
        settle=redelivery,
    ),
]


@pytest.mark.parametrize("fault", FAULTS, ids=["publish-throttled", "delete-500", "delete-partial"])
def test_aws_operation_fault(deployed_lab, logs, faultproxy_route, aws, settings, record_fault, fault, run):
    env = Env(deployed_lab, aws, logs, settings, proxy=faultproxy_route[1])
    record_fault(*run_fault(fault, env))
