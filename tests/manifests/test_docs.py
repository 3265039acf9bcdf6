"""The probe numbers written in the docs are the ones in the manifests (docs must match code)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FOLDER_README = REPO / "candidate-project" / "kubernetes" / "README.md"
DECISIONS = REPO / "docs" / "decisions.md"


def folder_readme_line(path: str, probe: dict) -> str:
    return (
        f"`GET {path}` on 5000: initialDelay {probe['initialDelaySeconds']} s, period {probe['periodSeconds']} s, "
        f"timeout {probe['timeoutSeconds']} s, failureThreshold {probe['failureThreshold']}"
    )


def decisions_row(kind: str, path: str, probe: dict) -> str:
    return (
        f"| {kind} `GET {path} :5000` | {probe['initialDelaySeconds']} s | {probe['periodSeconds']} s "
        f"| {probe['timeoutSeconds']} s | {probe['failureThreshold']} |"
    )


def test_documented_probe_numbers_match_the_manifests(service_container):
    readme, decisions = FOLDER_README.read_text(), DECISIONS.read_text()
    for kind, field, path in (("liveness", "livenessProbe", "/health"), ("readiness", "readinessProbe", "/ready")):
        probe = service_container[field]
        assert folder_readme_line(path, probe) in readme, f"{FOLDER_README.name}: {kind} numbers differ"
        assert decisions_row(kind, path, probe) in decisions, f"{DECISIONS.name}: {kind} numbers differ"


def test_documented_heartbeat_and_long_poll_match_the_manifests(service_container):
    env = {e["name"]: e.get("value") for e in service_container["env"]}
    decisions = DECISIONS.read_text()
    assert f"`HEARTBEAT_MAX_AGE_SECONDS={env['HEARTBEAT_MAX_AGE_SECONDS']}`" in decisions
    assert f"`HEARTBEAT_MAX_AGE_SECONDS` = {env['HEARTBEAT_MAX_AGE_SECONDS']} s" in FOLDER_README.read_text()
    if "RECEIVE_WAIT_SECONDS" in env:
        assert f"`RECEIVE_WAIT_SECONDS={env['RECEIVE_WAIT_SECONDS']}`" in decisions
