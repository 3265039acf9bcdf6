"""docs/faults-network-aws.md states faultproxy's and the Toxiproxy client's numbers and names: they are the code's.

Each documented value is rendered from the constant that owns it and looked up in the page, so changing one without
the other fails here. The last test shows the lookup fails on a value the page does not state.
"""

from __future__ import annotations

from pathlib import Path

from faultproxy.config import Config
from faultproxy.control import READY_CONNECT_SECONDS
from faultproxy.faults import KINDS, PARTIAL_OPERATIONS
from faultproxy.protocol import JSON, QUERY, SERVER_ERROR_CODE, THROTTLE_CODES
from faultproxy.proxy import CHUNK, INJECTED_HEADER
from lab.toxiproxy import TOXIC_TYPES

DOC = Path(__file__).resolve().parents[2] / "docs" / "faults-network-aws.md"
NUMBER_WORDS = {7: "seven"}


def documented() -> list[str]:
    defaults = Config("x", 1)
    return [
        f"code `{THROTTLE_CODES[QUERY]}` (query) / `{THROTTLE_CODES[JSON]}` (JSON)",
        f"code `{SERVER_ERROR_CODE}`",
        *(f"| `{kind}`" for kind in KINDS),
        f"(only `{PARTIAL_OPERATIONS[0]}`)",
        f"| `LISTEN_PORT` | `{defaults.listen_port}` |",
        f"| `CONTROL_PORT` | `{defaults.control_port}` |",
        f"| `UPSTREAM_TIMEOUT_SECONDS` | `{defaults.upstream_timeout:g}` |",
        f"| `FAULT_SEED` | `{defaults.seed}` |",
        f"## Control API (port {defaults.control_port})",
        f"TCP connection within {READY_CONNECT_SECONDS:g} s",
        f"in {CHUNK // 1024} KiB pieces",
        f"`{INJECTED_HEADER}: <kind>`",
        f"the {NUMBER_WORDS[len(TOXIC_TYPES)]} Toxiproxy 2.5.0 ships",
    ]


def missing(page: str) -> list[str]:
    """Documented values the page does not state."""
    return [text for text in documented() if text not in page]


def test_doc_states_the_codes_values():
    assert missing(DOC.read_text(encoding="utf-8")) == []


def test_doc_check_flags_a_changed_number():
    page = DOC.read_text(encoding="utf-8").replace(
        "| `UPSTREAM_TIMEOUT_SECONDS` | `30` |", "| `UPSTREAM_TIMEOUT_SECONDS` | `31` |"
    )
    assert missing(page) == ["| `UPSTREAM_TIMEOUT_SECONDS` | `30` |"]
