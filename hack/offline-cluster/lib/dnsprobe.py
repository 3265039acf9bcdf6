"""Ask one DNS server for an A record and print the addresses (used by `up` to prove DNS).

Why not dig: the host has no dnsutils, and a pod-based check would need an extra image
start; a raw UDP query from the host through the kube-dns Service IP exercises kube-proxy's
DNAT and CoreDNS's kubernetes plugin just the same. Usage: dnsprobe.py SERVER NAME.
"""

import random
import socket
import struct
import sys


def skip_name(data: bytes, pos: int) -> int:
    """Return the offset just past the (possibly compressed) domain name at pos."""
    while data[pos]:
        if data[pos] & 0xC0 == 0xC0:
            return pos + 2
        pos += data[pos] + 1
    return pos + 1


def query(server: str, name: str, timeout: float = 2.0) -> list[str]:
    qid = random.randint(0, 0xFFFF)
    header = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    packet = header + qname + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, (server, 53))
        data, _ = sock.recvfrom(4096)
    rid, flags, _, ancount, _, _ = struct.unpack(">HHHHHH", data[:12])
    if rid != qid or flags & 0x000F:
        raise SystemExit(f"dns: bad answer for {name} (rcode {flags & 0x000F})")
    pos = 12 + len(qname) + 4
    found = []
    for _ in range(ancount):
        pos = skip_name(data, pos)
        rtype, _, _, rdlen = struct.unpack(">HHIH", data[pos : pos + 10])
        pos += 10
        if rtype == 1 and rdlen == 4:
            found.append(socket.inet_ntoa(data[pos : pos + 4]))
        pos += rdlen
    return found


if __name__ == "__main__":
    answers = query(sys.argv[1], sys.argv[2])
    if not answers:
        raise SystemExit(f"dns: no A record for {sys.argv[2]}")
    print(" ".join(answers))
