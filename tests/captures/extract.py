#!/usr/bin/env python3
"""Turns a tcpdump pcap of BFD control traffic into the text format of tests/captures/*.txt.

Usage: extract.py PCAP [MAX_PACKETS] > NAME.body

Prints one comment line per packet (source, destination, ports, TTL or hop limit, decoded
header fields) followed by the UDP payload as lowercase hex on its own line. Only the standard
library is used; the pcap must have an Ethernet link type (tcpdump -i vethX).
"""
import ipaddress
import struct
import sys

STATES = ["AdminDown", "Down", "Init", "Up"]
AUTH = {1: "simple", 2: "keyed-md5", 3: "meticulous-keyed-md5", 4: "keyed-sha1", 5: "meticulous-keyed-sha1"}


def packets(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    if linktype != 1:
        sys.exit(f"unsupported link type {linktype}")
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        frame = data[off:off + incl]
        off += incl
        ts = sec + frac / (1e9 if nano else 1e6)
        ethertype = struct.unpack(">H", frame[12:14])[0]
        l3 = frame[14:]
        if ethertype == 0x0800:
            ihl = (l3[0] & 0x0F) * 4
            ttl, proto = l3[8], l3[9]
            src, dst = ipaddress.ip_address(l3[12:16]), ipaddress.ip_address(l3[16:20])
            l4 = l3[ihl:]
        elif ethertype == 0x86DD:
            proto, ttl = l3[6], l3[7]
            src, dst = ipaddress.ip_address(l3[8:24]), ipaddress.ip_address(l3[24:40])
            l4 = l3[40:]
        else:
            continue
        if proto != 17:
            continue
        sport, dport, ulen = struct.unpack(">HHH", l4[:6])
        yield ts, src, sport, dst, dport, ttl, l4[8:ulen]


def describe(p):
    if len(p) < 24:
        return f"short packet ({len(p)} bytes)"
    flags = "".join(n for bit, n in zip([0x20, 0x10, 0x08, 0x04, 0x02, 0x01], "PFCADM") if p[1] & bit)
    my, your, tx, rx, echo = struct.unpack(">IIIII", p[4:24])
    text = (f"v{p[0] >> 5} {STATES[p[1] >> 6]} diag {p[0] & 0x1F} flags [{flags}] mult {p[2]} len {p[3]} "
            f"my 0x{my:08x} your 0x{your:08x} tx {tx} rx {rx} echo {echo}")
    if p[1] & 0x04 and len(p) >= 26:
        atype, alen = p[24], p[25]
        text += f" auth {AUTH.get(atype, atype)} len {alen} key-id {p[26] if len(p) > 26 else '?'}"
        if atype in (2, 3, 4, 5) and len(p) >= 32:
            text += f" seq {struct.unpack('>I', p[28:32])[0]}"
    return text


def main():
    path = sys.argv[1]
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    senders = {}
    for _ts, src, sport, _dst, dport, ttl, _payload in packets(path):
        seen = senders.setdefault(src, (set(), set(), set(), [0]))
        seen[0].add(sport)
        seen[1].add(ttl)
        seen[2].add(dport)
        seen[3][0] += 1
    for src, (sports, ttls, dports, count) in senders.items():
        print(f"sender {src}: {count[0]} packets, source port(s) {sorted(sports)}, "
              f"TTL/hop limit {sorted(ttls)}, destination port(s) {sorted(dports)}")
    start = None
    for n, (ts, src, sport, dst, dport, ttl, payload) in enumerate(packets(path)):
        if n >= limit:
            break
        start = ts if start is None else start
        print(f"# {n + 1} t+{ts - start:.3f}s {src}:{sport} -> {dst}:{dport} ttl {ttl}: {describe(payload)}")
        print(payload.hex())


if __name__ == "__main__":
    main()
