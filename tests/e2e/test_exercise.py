"""The exercise as written: ``kubectl apply -f candidate-project/kubernetes`` into ``default``, then its checks.

This is the one module that uses the literal command (no namespace flag); every other module gets a namespace of
its own. Objects the run did not create (someone's hand-made deployment in ``default``) are left in place.
"""

import json

import pytest

from lab.aws import DLQ, QUEUE, TOPIC
from lab.deploy import APPS, MANIFESTS, SERVICES, Lab
from lab.kube import wait_for
from lab.ledger import parse_events
from lab.probes import RESTART_SLACK_SECONDS
from shared import contract

UP = '{"status": "UP!"}'
PROBE_LINE = '"GET /health HTTP/1.1" 200 -'


@pytest.fixture(scope="module")
def deployed_lab(kubectl, artifacts):
    """Overrides the namespaced fixture: the exercise's literal apply into the kubeconfig's (default) namespace."""
    namespace = kubectl("config", "view", "--minify", "-o", "jsonpath={..namespace}").strip() or "default"
    existed = kubectl("get", "deployments", "--namespace", namespace, "-o", "name", *APPS, "--ignore-not-found")
    kubectl("apply", "-f", str(MANIFESTS), timeout=120)  # as the exercise writes it: no namespace flag
    lab = Lab(kubectl.in_namespace(namespace))
    try:
        lab.wait_rolled_out()
    except Exception:
        artifacts.dump_namespace(lab.kube, f"{namespace}-deploy-failed")
        raise
    yield lab
    if not existed.strip():
        kubectl("delete", "-f", str(MANIFESTS), "--wait=false")


def test_three_pods_running_and_ready(deployed_lab):
    pods = deployed_lab.kube.json("get", "pods", "-l", "app in (localstack,producer,consumer)")["items"]
    assert sorted(p["metadata"]["labels"]["app"] for p in pods) == sorted(APPS)
    for pod in pods:
        conditions = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
        assert (pod["status"]["phase"], conditions["Ready"]) == ("Running", "True"), pod["metadata"]["name"]


def test_topic_queue_dlq_and_subscription_exist(deployed_lab, aws):
    # The init hook runs once LocalStack is up; give it one LocalStack readiness window (read from the live probe).
    window = deployed_lab.probe("localstack", "readinessProbe").window() + RESTART_SLACK_SECONDS
    topic = wait_for(aws.topic_arn, window, what=f"topic {TOPIC}")
    queue, dlq = aws.queue_attributes(QUEUE), aws.queue_attributes(DLQ)
    redrive = json.loads(queue["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == contract.MAX_RECEIVE_COUNT
    assert queue["VisibilityTimeout"] == str(contract.VISIBILITY_TIMEOUT_SECONDS)
    subs = wait_for(lambda: aws.subscriptions(topic), window, what="subscription")
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("sqs", queue["QueueArn"])]
    assert subs[0]["Attributes"]["RawMessageDelivery"] == "true"


@pytest.mark.parametrize("app", SERVICES)
def test_health_answers_exactly_up(deployed_lab, app):
    assert deployed_lab.curl_health(app) == UP


@pytest.mark.parametrize("app", SERVICES)
def test_logs_show_kubelet_liveness_probes(deployed_lab, app):
    probe, pod = deployed_lab.probe(app), deployed_lab.pod(app)

    def probe_lines():  # the kubelet probes from the node's address; our own curl comes from 127.0.0.1
        logs = deployed_lab.kube.logs(pod, app)
        return [line for line in logs.splitlines() if PROBE_LINE in line and not line.startswith("127.")]

    # One probe happens within initialDelaySeconds + periodSeconds (+ timeout) of the container's start.
    assert wait_for(probe_lines, probe.initial_delay + probe.period + probe.timeout + RESTART_SLACK_SECONDS)


def test_producer_logs_its_publishes(deployed_lab):
    interval = float(deployed_lab.env("producer", "PUBLISH_INTERVAL_SECONDS", "1.0") or 1.0)
    pod = deployed_lab.pod("producer")

    def published():
        return [e for e in parse_events(deployed_lab.kube.logs(pod, "producer")) if e["event"] == "published"]

    events = wait_for(published, interval + RESTART_SLACK_SECONDS, what="a published event")
    assert all(e.get("message_id") and e.get("id") for e in events)


def test_consumer_logs_and_deletes_a_message_we_published(deployed_lab, aws):
    marker = aws.publish_marker(aws.topic_arn())
    pod = deployed_lab.pod("consumer")
    # A consumer loop turns around within HEARTBEAT_MAX_AGE_SECONDS (else its liveness fails), long poll included.
    deadline = deployed_lab.heartbeat_max_age("consumer") + RESTART_SLACK_SECONDS

    def consumed_then_deleted():
        events = parse_events(deployed_lab.kube.logs(pod, "consumer"))
        at = next((i for i, e in enumerate(events) if e["event"] == "consumed" and e.get("id") == marker), None)
        if at is None:
            return None
        deleted = [e for e in events[at + 1 :] if e["event"] == "deleted" and e.get("count", 0) >= 1]
        return (events[at], deleted) if deleted else None

    consumed, _ = wait_for(consumed_then_deleted, deadline, what=f"consumer log of {marker}")
    assert consumed["body"]["id"] == marker and consumed["body"]["producer"] == "e2e-test"
    wait_for(lambda: aws.in_flight() == 0, deadline, interval=0.5, what="queue drained")
