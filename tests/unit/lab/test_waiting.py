"""The one poller (lab/waiting.py): what counts as "not yet", what ends a wait at once, what a timeout says.

Every tier's deadlines go through it, so a wrong rule here (an error swallowed until the deadline, a timeout that
names nothing) would make each derived bound in the suite mean something else than it says.
"""

import subprocess
import sys
import time

import pytest

import lab.kube
import lab.waiting
from lab.emulator import free_port
from lab.kube import KubectlError
from lab.processes import Service, answers, stop_process
from lab.waiting import Transient, holds, wait_for


def test_lab_kube_reexports_the_one_poller():
    assert (lab.kube.wait_for, lab.kube.holds) == (lab.waiting.wait_for, lab.waiting.holds)


def test_a_transient_error_is_retried_and_the_answer_returned():
    answers_ = iter([Transient("2 of 3 events"), None, ["e1", "e2", "e3"]])

    def poll():
        answer = next(answers_)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert wait_for(poll, deadline=5, interval=0) == ["e1", "e2", "e3"]


def test_a_kubectl_error_is_transient_so_kube_waits_retry_it():
    failures = iter([KubectlError("kubectl get pod x: the server is currently unable to handle the request")])

    def poll():
        for failure in failures:
            raise failure
        return "Running"

    assert wait_for(poll, deadline=5, interval=0) == "Running"


def test_retry_on_adds_errors_that_mean_not_yet():
    calls = []

    def poll():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionRefusedError("nothing listens yet")
        return 200

    assert wait_for(poll, deadline=5, interval=0, retry_on=(ConnectionRefusedError,)) == 200
    assert len(calls) == 3


def test_any_other_error_ends_the_wait_at_once():
    calls = []

    def poll():
        calls.append(1)
        raise RuntimeError("producer exited with 1")

    with pytest.raises(RuntimeError, match="exited with 1"):
        wait_for(poll, deadline=5, interval=0)
    assert len(calls) == 1


def test_a_timeout_names_what_and_the_last_transient_error():
    def poll():
        raise Transient("4 of 5 consumed")

    with pytest.raises(AssertionError, match=r"5 messages consumed not reached within 0 s \(last error: 4 of 5"):
        wait_for(poll, deadline=0.1, interval=0.02, what="5 messages consumed")


def test_holds_does_not_swallow_an_error():
    def poll():
        raise Transient("not a lapse: an error")

    with pytest.raises(Transient):
        holds(poll, window=1, interval=0)


def test_answers_is_false_while_nothing_listens():
    assert answers(f"http://127.0.0.1:{free_port()}/health") is False


@pytest.fixture
def service(tmp_path):
    """A `Service` around a stand-in process (sleeps; the test writes its stdout), ended by its PID at teardown."""
    out, err = tmp_path / "svc.out", tmp_path / "svc.err"
    out.write_text("")
    err.write_text("boom: the worker could not start\n")
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield Service("consumer", proc, free_port(), out, err, {})
    stop_process(proc, grace=5)


def test_service_waits_go_through_the_poller_and_say_what_they_waited_for(service):
    service.stdout.write_text('{"event": "consumed", "ts": 1.0}\n{"event": "consumed", "ts": 2.0}\n')
    assert [e["_t"] for e in service.wait_events("consumed", 2, deadline=5)] == [1.0, 2.0]
    assert service.wait_events("poison", 0, deadline=5) == []  # a falsy answer still ends the wait
    with pytest.raises(AssertionError, match=r"consumer: 3 consumed events not reached .*2 of 3 consumed events"):
        service.wait_events("consumed", 3, deadline=0.2)


def test_service_waits_end_at_once_when_the_process_died(service):
    service.proc.kill()
    service.proc.wait()
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="could not start"):
        service.wait_status("/health", 200, deadline=30)
    assert time.monotonic() - started < 5
