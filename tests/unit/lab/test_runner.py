"""`lab.runner.run_fault` with fake injectors, fake AWS and fake logs: the procedure every fault shares.

Why fakes: the runner's own rules (undo always, the busy wait before the injection, the mid-batch proof, the bound
the fault declares, the first message after the restart, one record per recorded app) must be able to fail without
a cluster; the e2e faults then only prove the injectors.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from lab.catalogue import Settings
from lab.fault import Bound, Env, Fault, Reaction, redelivery, redelivery_and_drain
from lab.ledger import Ledger
from lab.report.record import make_record
from lab.runner import IDLE, run_fault
from lab.timeline import Recovery


class FakeAws:
    """Just enough of `lab.aws.Aws` for `lab.catalogue.burst`."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.batches: list[list[dict]] = []
        self.fail_after = fail_after  # batches accepted before every publish fails (the emulator gone)
        self.sns = SimpleNamespace(publish_batch=self.publish_batch)

    def publish_batch(self, **kw) -> None:
        if self.fail_after is not None and len(self.batches) >= self.fail_after:
            raise ConnectionError("emulator gone")
        self.batches.append(kw["PublishBatchRequestEntries"])

    def topic_arn(self) -> str:
        return "arn:aws:sns:us-east-1:000000000000:lab-messages"


class FakeLogs:
    """A `LogFollower` whose consumer handles the test's messages when the ledger is read.

    ``held``: while ``holding``, the last ``held`` burst messages stay unhandled (the batch the hit pod holds); they
    are handled by ``source`` (e.g. the replacement) once the injector releases them.
    """

    def __init__(self, held: int = 0, source: str = "consumer-old", skew: float = 0.0) -> None:
        self.test_published: list[dict] = []
        self.consumed: list[dict] = []
        self.held, self.holding, self.source, self.skew = held, True, source, skew

    def ledger(self, dlq_bodies=None) -> Ledger:
        done = {e["id"] for e in self.consumed}
        pending = [e for e in self.test_published if e["id"] not in done]
        if self.holding and self.held:
            pending = pending[: max(0, len(self.test_published) - self.held - len(done))]
        now = time.time() - (0 if self.holding else self.skew)  # ``skew``: the releasing pod's clock is behind
        self.consumed += [{"event": "consumed", "id": e["id"], "_t": now, "_source": self.source} for e in pending]
        return Ledger().add_events(self.test_published + self.consumed)

    def scan(self) -> None: ...

    def texts(self) -> dict[str, str]:
        return {}

    def ready_series(self, app: str) -> list:
        return []


class FakeInjector:
    """Records the calls; ``reactions`` builds what Kubernetes "did"; ``fail`` raises in one of the steps."""

    def __init__(self, reactions=None, fail: str = "", replacement: str | None = None, bound: float | None = None):
        self.calls: list[str] = []
        self.reactions, self.fail, self.replacement, self.bound = reactions, fail, replacement, bound
        self.consumed_at_inject = self.published_at_prepare = -1

    def prepare(self, env, fault):
        self.calls.append("prepare")
        self.published_at_prepare = len(env.logs.test_published)
        if self.fail == "prepare":
            raise AssertionError("no pod of the app")

    def inject(self, env, fault, prepared):
        self.calls.append("inject")
        self.consumed_at_inject = len(env.logs.consumed)
        if self.fail == "inject":
            raise AssertionError("inject failed")
        return time.time()

    def await_reaction(self, env, fault, injected):
        self.calls.append("await_reaction")
        if self.fail == "await_reaction":
            raise AssertionError("no restart within 17 s")
        env.logs.holding, env.logs.source = False, self.replacement or env.logs.source
        if self.reactions is not None:
            return self.reactions(fault, injected)
        return {
            app: Reaction(
                Recovery(fault.name, injected, killed=injected + 1, restarted=injected + 2, bound=self.bound),
                self.replacement,
                notes=[f"{app} note"],
            )
            for app in fault.records
        }

    def undo(self, env, fault):
        self.calls.append("undo")


SETTINGS = Settings(visibility=0.0, receive_wait=0.0, max_receive=3, grace={"producer": 1.0, "consumer": 1.0})


def env(logs: FakeLogs | None = None) -> Env:
    return Env(lab=None, aws=FakeAws(), logs=logs or FakeLogs(), settings=SETTINGS)


def fault(injector, apps=("consumer",), **kw) -> Fault:
    return Fault("fake fault", apps, injector, "the fake reaction", burst=kw.pop("burst", 4), **kw)


def test_runs_inject_reaction_undo_and_records_each_app():
    injector, e = FakeInjector(), env()
    records = run_fault(fault(injector, ("producer", "consumer")), e)
    assert injector.calls == ["prepare", "inject", "await_reaction", "undo"]
    assert injector.published_at_prepare == 0  # read before the burst: nothing slow between busy and the action
    assert [r.fault for r in records] == ["fake fault (producer)", "fake fault (consumer)"]
    assert all(r.expected == "the fake reaction" and r.problems == [] for r in records)
    assert sum(len(b) for b in e.aws.batches) == 4
    assert {m["producer"].rsplit("-", 1)[0] for m in e.logs.test_published} == {"fake-fault"}  # tagged by the id
    assert records[0].notes.startswith("producer note; published=4 consumed=4 lost=0")


def test_undo_runs_when_the_reaction_or_the_injection_fails():
    for step in ("prepare", "inject", "await_reaction"):
        injector = FakeInjector(fail=step)
        with pytest.raises(AssertionError):
            run_fault(fault(injector), env())
        assert injector.calls[-1] == "undo", step


def test_mid_batch_waits_until_the_consumer_is_busy_before_injecting():
    injector = FakeInjector(replacement="consumer-new")
    run_fault(fault(injector, mid_batch=True), env(FakeLogs(held=2)))
    assert injector.consumed_at_inject == 2  # part of the burst handled, the rest still held by the hit pod


def test_mid_batch_fails_an_idle_consumer():
    """The whole burst was handled before the injection and the trickle could publish nothing (its publishes fail):
    the fault did not hit a batch."""
    e = Env(lab=None, aws=FakeAws(fail_after=1), logs=FakeLogs(held=0), settings=SETTINGS)
    (record,) = run_fault(fault(FakeInjector(), mid_batch=True), e)
    assert IDLE in record.problems
    assert "0 burst messages in flight" in record.notes


def test_mid_batch_publishes_on_through_the_injection():
    """The trickle (`lab.trickle`) runs while the injector acts: messages arrive until the fault is in place."""
    e = env(FakeLogs(held=2))
    run_fault(fault(FakeInjector(replacement="consumer-new"), mid_batch=True), e)
    trickled = [m for m in e.logs.test_published if m["producer"].startswith("fake-fault-t-")]
    assert trickled, "no message was published during the injection"


def test_mid_batch_passes_when_the_held_batch_is_handled_after_the_fault():
    (record,) = run_fault(fault(FakeInjector(replacement="consumer-new"), mid_batch=True), env(FakeLogs(held=2)))
    assert record.problems == []
    assert "2 burst messages in flight" in record.notes


def test_mid_batch_counts_what_the_replacement_handled_even_with_its_clock_behind():
    logs = FakeLogs(held=2, skew=60.0)
    (record,) = run_fault(fault(FakeInjector(replacement="consumer-new"), mid_batch=True), env(logs))
    assert record.problems == [] and "2 burst messages in flight" in record.notes


def test_mid_batch_is_only_asked_of_the_consumer():
    records = run_fault(fault(FakeInjector(), ("producer",), mid_batch=True), env(FakeLogs(held=0)))
    assert records[0].problems == []
    assert "in flight" not in records[0].notes


def test_a_declared_bound_the_injector_did_not_measure_fails():
    (record,) = run_fault(fault(FakeInjector(), bound=Bound.LIVENESS), env())
    assert record.problems == ["fake fault: the liveness bound applies, but the injector measured none"]


def test_a_bound_where_none_applies_fails():
    (record,) = run_fault(fault(FakeInjector(bound=17.0)), env())
    assert record.problems == ["fake fault: no bound applies, but the injector set one (17 s)"]


def test_the_declared_bound_is_asserted_by_the_verdict():
    """Decided 1 s after the fault against a bound of 17 s and an earliest of 10 s: too early for this fault."""

    def reactions(f, injected):
        recovery = Recovery(f.name, injected=injected, killed=injected + 1, restarted=injected + 2, bound=17.0)
        recovery.earliest = 10.0
        return {"consumer": Reaction(recovery)}

    (record,) = run_fault(fault(FakeInjector(reactions), bound=Bound.LIVENESS), env())
    assert len(record.problems) == 1 and "earlier than the 10 s its bound allows" in record.problems[0]


def test_injector_checks_become_problems():
    def reactions(f, injected):
        return {"consumer": Reaction(Recovery(f.name, injected=injected), checks=["fake fault: exit 137, expected 0"])}

    (record,) = run_fault(fault(FakeInjector(reactions)), env())
    assert record.problems == ["fake fault: exit 137, expected 0"]


def test_a_missing_reaction_fails_the_run():
    with pytest.raises(AssertionError, match=r"no reaction for \['producer'\]"):
        run_fault(fault(FakeInjector(lambda f, injected: {}), ("producer",)), env())


def test_first_consumed_after_the_restart():
    """A consumer restarted in place counts any message it handled after its restart; a restarted producer only
    messages it published itself after the restart (the test's burst came before, so none)."""

    def reactions(f, injected):  # restarted right after the burst; the messages are handled later, at settling
        return {app: Reaction(Recovery(f.name, injected=injected, restarted=injected)) for app in f.records}

    consumer, producer = run_fault(fault(FakeInjector(reactions), ("consumer", "producer")), env())
    assert consumer.recovery.first_consumed is not None
    assert producer.recovery.first_consumed is None


def test_first_consumed_by_the_replacement_only():
    """The old pod handled the whole burst (while the busy wait read it), after the replacement had started: that is
    not the replacement's first message."""

    def reactions(f, injected):
        return {"consumer": Reaction(Recovery(f.name, injected, restarted=injected - 60), replacement="consumer-new")}

    (record,) = run_fault(fault(FakeInjector(reactions), mid_batch=True), env(FakeLogs(held=0)))
    assert record.recovery.first_consumed is None


def test_fault_description():
    injector = FakeInjector()
    both = Fault(
        "SIGTERM during work (rollout restart)", ("producer", "consumer"), injector, "", recorded=("consumer",)
    )
    assert both.records == ("consumer",) and both.record_name("consumer") == both.name
    assert both.id == "sigterm-during-work-rollout-restart"
    assert fault(injector, ("producer", "consumer")).record_name("producer") == "fake fault (producer)"
    with pytest.raises(ValueError, match="not all among"):
        Fault("x", ("producer",), injector, "", recorded=("consumer",))
    with pytest.raises(ValueError, match="at least one app"):
        Fault("x", (), injector, "")
    assert redelivery(SETTINGS) == SETTINGS.redelivery()
    assert redelivery_and_drain(SETTINGS) == SETTINGS.redelivery() + 1.0


def test_make_record_takes_named_arguments_only():
    """Eight arguments of similar types are easy to swap (ledger/result, app/notes) without any check noticing."""
    logs, recovery = FakeLogs(), Recovery("f", injected=100.0, killed=101.0, restarted=102.0)
    ledger = Ledger().add_events(
        [
            {"event": "published", "id": "a", "seq": 1, "producer": "p", "_t": 95.0},
            {"event": "consumed", "id": "a", "_t": 103.0},
        ]
    )
    result = ledger.check()
    named = make_record(
        fault="f",
        expected="exp",
        recovery=recovery,
        ledger=ledger,
        result=result,
        logs=logs,
        app="consumer",
        notes="n",
        since=90.0,
        checks=["c"],
    )
    assert (named.fault, named.expected, named.notes) == ("f", "exp", "n")
    assert named.published == [95.0] and named.consumed == [103.0] and named.restarts == [102.0]
    with pytest.raises(TypeError):
        make_record("f", "exp", recovery, ledger, result, logs, "consumer")  # type: ignore[misc]
