"""The services' contract: the message both sides speak, the AWS resources and the settings the queue must have.

One owner for these facts. The services use them (defaults, the message they publish and accept); the unit and
integration tiers and the benchmark create their resources with them (lab/emulator.py); the manifests tier checks
that the LocalStack init hook creates exactly this (tests/manifests/test_init_hook.py); the e2e suite looks the
resources up by these names (lab/aws.py).
"""

from __future__ import annotations

from typing import Any

TOPIC_NAME = "lab-messages"
QUEUE_NAME = "lab-messages-queue"
DLQ_NAME = "lab-messages-dlq"
# A message received this many times without being deleted (poison) moves to the DLQ.
MAX_RECEIVE_COUNT = 3
# How long a received, undeleted message stays hidden before it is delivered again (redelivered, never lost).
VISIBILITY_TIMEOUT_SECONDS = 30
DLQ_RETENTION_SECONDS = 14 * 24 * 3600

# The message: field -> accepted JSON types. ``seq`` counts per producer pod from 1 without gaps (the ledger looks
# for gaps), ``ts`` is the producer's clock in unix seconds at publish time.
MESSAGE_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "seq": (int,),
    "ts": (int, float),
    "producer": (str,),
}


def message(id: str, seq: int, ts: float, producer: str) -> dict[str, Any]:
    """A message as the producer publishes it (JSON-encode it for the wire)."""
    return {"id": id, "seq": seq, "ts": ts, "producer": producer}
