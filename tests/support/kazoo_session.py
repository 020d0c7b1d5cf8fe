"""A kazoo client holding a session with a ZooKeeper-protocol server, for tests/zk_interop.rs.

usage: kazoo_session.py HOST:PORT negotiate MS...   one session per requested timeout, each
                                                    closed; prints "negotiated REQ GOT SID"
       kazoo_session.py HOST:PORT stay MS SECONDS   a session kept SECONDS, then closed; prints
                                                    "connected SID GOT", "alive STATES",
                                                    then closes after a line on stdin (or its
                                                    end), prints "stopped", lingers 2 s, exits
       kazoo_session.py HOST:PORT hold MS           a session held until the process is killed;
                                                    prints "connected SID GOT"
Every line is flushed at once; any failure exits non-zero with the reason on stderr.
"""

import logging
import re
import sys
import time

from kazoo.client import KazooClient, KazooState

NEGOTIATED = re.compile(r"negotiated session timeout: (\d+)")


class Negotiated(logging.Handler):
    """kazoo 2.8 logs the negotiated timeout (at its BLATHER level) and keeps it nowhere else."""

    def __init__(self):
        super().__init__(level=1)
        self.value = None

    def emit(self, record):
        m = NEGOTIATED.search(record.getMessage())
        if m:
            self.value = int(m.group(1))


def say(*words):
    print(*words, flush=True)


def start(hosts, ms, seen):
    seen.value = None
    client = KazooClient(hosts=hosts, timeout=ms / 1000.0, connection_retry=None)
    client.start(timeout=10)
    deadline = time.monotonic() + 5
    while seen.value is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if seen.value is None:
        sys.exit("no negotiated timeout logged")
    return client, "%#x" % client.client_id[0], seen.value


def main():
    hosts, mode, ms = sys.argv[1], sys.argv[2], int(sys.argv[3])
    seen = Negotiated()
    log = logging.getLogger("kazoo")
    log.setLevel(1)
    log.addHandler(seen)
    if mode == "negotiate":
        for requested in [int(a) for a in sys.argv[3:]]:
            client, sid, got = start(hosts, requested, seen)
            say("negotiated", requested, got, sid)
            client.stop()
            client.close()
    elif mode == "stay":
        states = []
        client, sid, got = start(hosts, ms, seen)
        client.add_listener(lambda state: states.append(state))
        say("connected", sid, got)
        end = time.monotonic() + float(sys.argv[4])
        while time.monotonic() < end:
            if client.state != KazooState.CONNECTED:
                sys.exit("lost the session: %s" % client.state)
            time.sleep(0.05)
        say("alive", len(states))
        sys.stdin.readline()  # the test's go-ahead (at once when stdin is empty or closed)
        client.stop()
        say("stopped")
        time.sleep(2)
        client.close()
    elif mode == "hold":
        client, sid, got = start(hosts, ms, seen)
        say("connected", sid, got)
        time.sleep(60)
        sys.exit("not killed within 60 s")
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
