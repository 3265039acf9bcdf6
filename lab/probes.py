"""Deadlines derived from the probe settings of the live objects.

Why a module of its own: every wait in the e2e suite must be justified by the settings Kubernetes itself acts on,
not by a number someone guessed. The tests read the Deployment (or Pod) from the API, build a `Probe` from it and
ask this module how long the kubelet may take; the arithmetic lives here once and is unit-tested.

Vocabulary used below:
- *detection bound*: ``initialDelaySeconds + periodSeconds × failureThreshold + timeoutSeconds`` — the latest moment,
  counted from the container's start, at which the kubelet has seen ``failureThreshold`` consecutive failures of a
  probe that fails from the start. For a fault injected into a running container the initial delay has long passed,
  so ``from_start=False`` leaves it out (the bound the fault catalogue asserts); waits keep it as margin.
- *earliest decision*: ``failureThreshold`` failures one ``periodSeconds`` apart cannot come sooner than
  ``periodSeconds × (failureThreshold − 1)`` after the fault became visible; a restart before that was not the
  probe's answer to this fault.
- *kill bound*: after deciding, the kubelet stops the container and waits up to the grace period
  (the probe's own ``terminationGracePeriodSeconds`` or else the pod's) before SIGKILL.
- *restart deadline*: detection bound + time before the fault becomes visible (``extra``, e.g. the heartbeat max
  age of a hung worker) + kill bound + a stated slack for starting the replacement container and API latency.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lab.kube import container_spec
from lab.times import API_TIMESTAMP_RESOLUTION_SECONDS

# Kubernetes' documented defaults (core/v1 Probe) for fields the manifest may leave out.
DEFAULT_INITIAL_DELAY = 0
DEFAULT_PERIOD = 10
DEFAULT_TIMEOUT = 1
DEFAULT_FAILURE_THRESHOLD = 3
DEFAULT_SUCCESS_THRESHOLD = 1
DEFAULT_GRACE = 30  # Pod terminationGracePeriodSeconds

# Slack added to every restart deadline: starting the replacement container (image already on the node), the
# kubelet's status update reaching the API server and our poll interval. Stated once, here.
RESTART_SLACK_SECONDS = 10.0

# kubelet's container restart back-off (pkg/kubelet: initial 10 s, doubled per crash, capped at 300 s); the first
# restart after a crash is immediate. Not configurable through the Pod, so these are constants, not guesses.
BACKOFF_INITIAL_SECONDS = 10.0
BACKOFF_MAX_SECONDS = 300.0


@dataclass(frozen=True)
class Probe:
    """The fields of one probe that deadlines depend on, with Kubernetes' defaults filled in."""

    initial_delay: float
    period: float
    timeout: float
    failure_threshold: int
    success_threshold: int = DEFAULT_SUCCESS_THRESHOLD
    grace: float = DEFAULT_GRACE
    path: str | None = None
    port: int | str | None = None

    @classmethod
    def from_spec(cls, probe: dict, pod_grace: float | None = None) -> Probe:
        """Build from a probe dict as the API returns it (``containers[i].livenessProbe``)."""
        http = probe.get("httpGet") or {}
        grace = probe.get("terminationGracePeriodSeconds")
        if grace is None:
            grace = DEFAULT_GRACE if pod_grace is None else pod_grace
        return cls(
            initial_delay=float(probe.get("initialDelaySeconds", DEFAULT_INITIAL_DELAY)),
            period=float(probe.get("periodSeconds", DEFAULT_PERIOD)),
            timeout=float(probe.get("timeoutSeconds", DEFAULT_TIMEOUT)),
            failure_threshold=int(probe.get("failureThreshold", DEFAULT_FAILURE_THRESHOLD)),
            success_threshold=int(probe.get("successThreshold", DEFAULT_SUCCESS_THRESHOLD)),
            grace=float(grace),
            path=http.get("path"),
            port=http.get("port"),
        )

    @classmethod
    def from_pod_template(cls, template_spec: dict, container: str, kind: str = "livenessProbe") -> Probe:
        """Build from a pod spec (Deployment ``spec.template.spec`` or Pod ``spec``) for one container's probe."""
        _, item = container_spec(template_spec, container)
        if kind not in item:
            raise LookupError(f"container {container!r} has no {kind}")
        return cls.from_spec(item[kind], template_spec.get("terminationGracePeriodSeconds"))

    def detection_bound(self, extra: float = 0.0, from_start: bool = True) -> float:
        """``initialDelaySeconds + periodSeconds × failureThreshold + timeoutSeconds`` (+ ``extra``, the time before
        the fault is visible at all, e.g. a hung worker's heartbeat max age). ``from_start=False``: the fault hit a
        running container, whose initial delay has passed."""
        initial = self.initial_delay if from_start else 0.0
        return initial + self.period * self.failure_threshold + self.timeout + extra

    def earliest_decision(self, visible_after: float = 0.0, from_start: bool = False) -> float:
        """Earliest restart decision, counted from the fault: ``failureThreshold`` failures one period apart, the
        first no sooner than the fault is visible (``visible_after``; + the initial delay from container start)."""
        initial = self.initial_delay if from_start else 0.0
        return initial + visible_after + self.period * (self.failure_threshold - 1)

    def window(self, extra: float = 0.0) -> float:
        """A full probe window: long enough for the kubelet to act on a failure that exists (same formula)."""
        return self.detection_bound(extra)

    def restart_deadline(self, extra: float = 0.0, slack: float = RESTART_SLACK_SECONDS) -> float:
        """Latest time, from the fault, by which ``restartCount`` must have gone up."""
        return self.detection_bound(extra) + self.grace + slack

    def unready_deadline(self, slack: float = RESTART_SLACK_SECONDS) -> float:
        """For a readiness probe: latest time for the Ready condition to turn False after its check starts failing."""
        return self.period * self.failure_threshold + self.timeout + slack

    def ready_deadline(self, slack: float = RESTART_SLACK_SECONDS) -> float:
        """For a readiness probe: latest time for Ready to come back once its check passes again."""
        return self.period * self.success_threshold + self.timeout + slack


def backoff_delay(restart: int) -> float:
    """kubelet's wait before the ``restart``-th restart of a crashing container (1-based): 0, 10, 20, 40 … 300."""
    if restart < 1:
        raise ValueError("restart is 1-based")
    if restart == 1:
        return 0.0
    return min(BACKOFF_INITIAL_SECONDS * 2 ** (restart - 2), BACKOFF_MAX_SECONDS)


def crashloop_deadline(probe: Probe, restarts: int, slack: float = RESTART_SLACK_SECONDS) -> float:
    """Latest time for a container whose liveness always fails to reach ``restarts`` restarts.

    Each cycle: the container runs until the kubelet's detection bound, is stopped (kill bound), then waits out
    the back-off before starting again.
    """
    return sum(probe.restart_deadline(slack=slack) + backoff_delay(n) for n in range(1, restarts + 1))


def grows(delays: Iterable[float], tolerance: float = API_TIMESTAMP_RESOLUTION_SECONDS) -> bool:
    """True when every delay is larger than the one before by more than ``tolerance`` (API timestamps are ±1 s)."""
    values = list(delays)
    return len(values) >= 2 and all(b - a > tolerance for a, b in zip(values, values[1:], strict=False))
