"""The restarted container's status is read once the API shows its terminated generation, within the slack."""

from __future__ import annotations

from types import SimpleNamespace

from lab import liveness

INJECTION = SimpleNamespace(pod="producer-x", app="producer")
TERMINATED = {"exitCode": 0, "reason": "Completed", "startedAt": "2026-12-04T21:09:14Z"}


class Statuses:
    """container_status answering ``answers`` in turn, then the last one for ever."""

    def __init__(self, *answers: dict) -> None:
        self.answers, self.reads = list(answers), 0

    def container_status(self, pod: str, app: str) -> dict:
        assert (pod, app) == ("producer-x", "producer")
        self.reads += 1
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def test_waits_until_the_last_state_is_shown():
    kube = Statuses({"restartCount": 1}, {"restartCount": 1, "lastState": {"terminated": TERMINATED}})
    status = liveness.restarted_status(SimpleNamespace(kube=kube), INJECTION, deadline=5)
    assert status["lastState"]["terminated"] == TERMINATED
    assert kube.reads == 2


def test_returns_the_last_read_when_the_slack_runs_out():
    """judge() then reports the missing last state: the wait does not hide it."""
    kube = Statuses({"restartCount": 1, "lastState": {}})
    status = liveness.restarted_status(SimpleNamespace(kube=kube), INJECTION, deadline=0.05)
    assert status == {"restartCount": 1, "lastState": {}}
    assert kube.reads >= 1


def test_any_restarted_container_waits_the_same_way():
    """The CPU fault's copy is not an Injection: it reads its restarted status through the same wait."""
    kube = Statuses({"restartCount": 2, "lastState": {}}, {"restartCount": 2, "lastState": {"terminated": TERMINATED}})
    status = liveness.status_after_restart(SimpleNamespace(kube=kube), "producer-x", "producer", deadline=5)
    assert status["lastState"]["terminated"] == TERMINATED
