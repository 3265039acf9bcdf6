"""`lab.runner.run_fault` with what the later faults declare instead of writing out: who publishes (``traffic``),
the DLQ peek, loss windows, the settled ledger's review and the first message's rule.

Why: these are the runner's own rules for the message, resource, probe-configuration, CPU, slow-start, network and
AWS faults; each must be able to fail without a cluster (the e2e faults then only prove their injectors).
"""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest

from lab.catalogue import Settings
from lab.fault import Bound, Env, Fault, Held, Reaction, Settled, Traffic, publish
from lab.ledger import Ledger, LossWindow
from lab.runner import run_fault
from lab.timeline import Recovery

SETTINGS = Settings(visibility=0.0, receive_wait=0.0, max_receive=3, grace={"producer": 1.0, "consumer": 1.0})


class Aws:
    """`lab.catalogue.burst`'s part of `lab.aws.Aws`, and a DLQ that holds ``dlq`` (for ``dlq=True``)."""

    def __init__(self, dlq: tuple[str, ...] = ()) -> None:
        self.sns = SimpleNamespace(publish_batch=lambda **kw: None)
        self.dlq = dlq
        self.sqs = SimpleNamespace(
            receive_message=lambda **kw: {"Messages": [{"MessageId": b, "Body": b} for b in self.dlq]}
        )
        self.peeked = False

    def topic_arn(self) -> str:
        return "arn:aws:sns:us-east-1:000000000000:lab-messages"

    def queue_url(self, name: str) -> str:
        self.peeked = True
        return name


class Logs:
    """A follower whose consumer handles every test message when the ledger is read, except ``drop`` (lost)."""

    def __init__(self, drop: int = 0) -> None:
        self.test_published: list[dict] = []
        self.drop = drop

    def ledger(self, dlq_bodies=None) -> Ledger:
        kept = self.test_published[self.drop :]
        consumed = [{"event": "consumed", "id": e["id"], "_t": time.time(), "_source": "consumer-x"} for e in kept]
        return Ledger().add_events(self.test_published + consumed).add_dlq(dlq_bodies or [])

    def scan(self) -> None: ...

    def texts(self) -> dict[str, str]:
        return {}

    def ready_series(self, app: str) -> list:
        return []


class Injector:
    """Publishes ``publishes`` messages itself at the injection; its reaction carries ``review``/``first``."""

    def __init__(self, publishes: int = 0, review=None, first=None, bound: float | None = None) -> None:
        self.publishes, self.review, self.first, self.bound = publishes, review, first, bound
        self.published_at_inject = -1

    def prepare(self, env, fault) -> None: ...

    def inject(self, env, fault, prepared):
        self.published_at_inject = len(env.logs.test_published)
        if self.publishes:
            publish(env, fault, self.publishes, tag="-own")
        return time.time()

    def await_reaction(self, env, fault, injected):
        recovery = Recovery(fault.name, injected=injected, killed=injected + 1, bound=self.bound)
        return {"consumer": Reaction(recovery, review=self.review, first_consumed=self.first)}

    def undo(self, env, fault) -> None: ...


def env(logs=None, aws=None, windows=None) -> Env:
    return Env(None, aws or Aws(), logs or Logs(), SETTINGS, **({"windows": windows} if windows is not None else {}))


def test_traffic_injector_leaves_the_publishing_to_the_injector_and_settles_what_it_published():
    injector = Injector(publishes=3)
    e = env()
    (record,) = run_fault(Fault("f", ("consumer",), injector, "", burst=5, traffic=Traffic.INJECTOR), e)
    assert injector.published_at_inject == 0  # the runner published nothing before the injection
    assert len(e.logs.test_published) == 3 and record.ledger.published == 3 and record.problems == []
    assert {m["producer"].rsplit("-", 1)[0] for m in e.logs.test_published} == {"f-own"}


def test_the_runs_messages_are_all_it_published_whoever_published_them():
    seen: list[Settled] = []

    def review(settled):
        seen.append(settled)
        return [], []

    e = env()
    e.logs.test_published.append({"event": "published", "id": "earlier-1", "seq": 1, "producer": "earlier"})
    run_fault(Fault("f", ("consumer",), Injector(publishes=2, review=review), "", burst=4), e)
    (settled,) = seen
    assert len(settled.published) == 6 and "earlier-1" not in settled.ids  # 4 by the runner, 2 by the injector


def test_review_checks_and_notes_join_the_record():
    def review(settled):
        return [f"f: {len(settled.ids)} checked"], ["reviewed"]

    (record,) = run_fault(Fault("f", ("consumer",), Injector(review=review), "", burst=2), env())
    assert record.problems == ["f: 2 checked"]
    assert record.notes.startswith("reviewed; published=2")


def test_first_consumed_rule_of_the_reaction_replaces_the_restart_rule():
    (record,) = run_fault(Fault("f", ("consumer",), Injector(first=lambda ledger: 123.0), "", burst=2), env())
    assert record.recovery.first_consumed == 123.0


def test_loss_windows_in_the_env_excuse_losses_inside_them():
    e = env(Logs(drop=1), windows=[LossWindow(0.0, time.time() + 60, "outage")])
    (record,) = run_fault(Fault("f", ("consumer",), Injector(), "", burst=3), e)
    assert record.problems == [] and len(record.ledger.excused) == 1


def test_a_loss_outside_any_window_fails_the_settle():
    with pytest.raises(AssertionError, match="lost"):
        run_fault(Fault("f", ("consumer",), Injector(), "", burst=3, settle=lambda s: 0.1), env(Logs(drop=1)))


def test_dlq_peeked_only_when_declared_and_a_dead_lettered_good_message_fails():
    aws = Aws()
    run_fault(Fault("f", ("consumer",), Injector(), "", burst=1), env(aws=aws))
    assert not aws.peeked
    e = env(aws=Aws())
    (first,) = run_fault(Fault("f", ("consumer",), Injector(), "", burst=1, dlq=True), e)
    assert e.aws.peeked and first.problems == []
    body = json.dumps({"id": e.logs.test_published[0]["id"], "seq": 1})
    (record,) = run_fault(Fault("f", ("consumer",), Injector(), "", burst=1, dlq=True), env(e.logs, Aws((body,))))
    assert any("DLQ" in problem for problem in record.problems)


def test_allocation_bound_declared_and_measured():
    (record,) = run_fault(Fault("f", ("consumer",), Injector(bound=5.0), "", burst=1, bound=Bound.ALLOCATION), env())
    assert record.problems == []
    (missing,) = run_fault(Fault("f", ("consumer",), Injector(), "", burst=1, bound=Bound.ALLOCATION), env())
    assert missing.problems == ["f: the allocation bound applies, but the injector measured none"]


def test_mid_batch_needs_the_runners_burst():
    with pytest.raises(ValueError, match="mid_batch"):
        Fault("f", ("consumer",), Injector(), "", mid_batch=True, traffic=Traffic.INJECTOR)


def test_env_records_only_with_artifacts():
    recorded: list[tuple] = []
    env().record("x", a=1)  # no artifacts: nothing to write, no error
    with_artifacts = Env(
        None, Aws(), Logs(), SETTINGS, artifacts=SimpleNamespace(record=lambda n, **d: recorded.append((n, d)))
    )
    with_artifacts.record("x", a=1)
    assert recorded == [("x", {"a": 1})]


class Block:
    """A ``with`` block that counts how often it was entered and left."""

    def __init__(self) -> None:
        self.entered = self.left = 0

    def __enter__(self) -> Block:
        self.entered += 1
        return self

    def __exit__(self, *exc) -> None:
        self.left += 1


class HeldInjector(Held):
    def __init__(self, lift: bool, fail: bool = False) -> None:
        super().__init__()
        self.block, self.lifts, self.fail = Block(), lift, fail

    def prepare(self, env, fault) -> None: ...

    def inject(self, env, fault, prepared):
        assert self.hold(self.block) is self.block
        return time.time()

    def await_reaction(self, env, fault, injected):
        if self.fail:
            raise AssertionError("no reaction")
        if self.lifts:
            assert self.lift() <= time.time() and self.block.left == 1  # left at once, not at the end of the run
        return {"consumer": Reaction(Recovery(fault.name, injected=injected))}


def test_held_block_left_when_lifted_or_by_undo_once():
    for lifts, fail in ((True, False), (False, False), (False, True)):
        injector = HeldInjector(lifts, fail)
        try:
            run_fault(Fault("f", ("consumer",), injector, "", burst=1), env())
        except AssertionError:
            assert fail
        assert (injector.block.entered, injector.block.left) == (1, 1), (lifts, fail)
