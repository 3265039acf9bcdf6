"""The killed container's log: from the API when it has it, else from a follower that read it while it was written."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lab import liveness
from lab.kube import KubectlError


class LostPrevious:
    """kubectl that keeps answering what the kubelet says after it lost the previous container (kubernetes#101044)."""

    def __call__(self, *args: str, **_: object) -> str:
        raise KubectlError('previous terminated container "consumer" in pod "consumer-x" not found')


class Follower:
    def __init__(self, texts: dict[tuple[str, int], str]) -> None:
        self.texts, self.scans = texts, 0

    def scan(self) -> None:
        self.scans += 1

    def generation_text(self, pod: str, generation: int) -> str:
        return self.texts.get((pod, generation), "")


INJECTION = SimpleNamespace(pod="consumer-x", app="consumer", restarts_before=0)


@pytest.fixture(autouse=True)
def short_slack(monkeypatch):
    monkeypatch.setattr(liveness, "RESTART_SLACK_SECONDS", 0.05)


def lab(kube) -> SimpleNamespace:
    return SimpleNamespace(kube=kube)


def test_the_api_s_previous_log_is_used_when_it_answers():
    answer = "2026-12-03T16:18:48.000000000Z line\n"
    follower = Follower({("consumer-x", 0): "other"})
    assert liveness.killed_log(lab(lambda *a, **k: answer), INJECTION, follower) == answer  # type: ignore[arg-type]
    assert follower.scans == 0


def test_the_follower_s_copy_when_the_api_lost_the_previous_container():
    follower = Follower({("consumer-x", 0): "2026-12-03T16:18:48.000000000Z killed generation\n"})
    text = liveness.killed_log(lab(LostPrevious()), INJECTION, follower)  # type: ignore[arg-type]
    assert "killed generation" in text and follower.scans == 1


def test_still_fails_when_neither_has_it():
    with pytest.raises(AssertionError, match="logs --previous consumer-x"):
        liveness.killed_log(lab(LostPrevious()), INJECTION, Follower({}))  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="not found"):
        liveness.killed_log(lab(LostPrevious()), INJECTION)  # type: ignore[arg-type]
