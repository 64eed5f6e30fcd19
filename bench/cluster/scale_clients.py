#!/usr/bin/env python3
"""Load generator for bench/cluster/scale.sh (standard library only): many idle MQTT 3.1.1 subscribers.

  scale_clients.py HOME_PORT OTHER_PORTS COUNT SOURCE PREFIX TOPIC

opens COUNT connections to HOME_PORT on 127.0.0.1 from the source address SOURCE (a 127.x.y.z address of its own, so
that the connections of all the generators do not share one address's ephemeral ports), client ids PREFIX-<i>,
clean session, keep alive 0 (nothing to ping), each subscribed to TOPIC at QoS 0. At most CONCURRENCY handshakes
are in progress at once. It then holds them and counts the PUBLISH packets they receive. A connection the broker
closes (its node killed) is opened again on the next port of OTHER_PORTS (comma separated, round robin), retried
every 100 ms on a refusal, and subscribed again.

Its state goes to stdout as one line whenever it changes (at most every 50 ms), the last line being the current one:
  <unix time> connected=<n> subscribed=<n> delivered=<n> lost=<n> resubscribed=<n> failed=<n>
    all_subscribed=<unix time or 0> all_resubscribed=<unix time or 0>
Stops on SIGTERM or after MAX_SECONDS (default 900), closing everything.
"""
import errno
import os
import selectors
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "restart"))
from mqtt_load import Packets, packet, string  # noqa: E402 (the raw-packet helpers of bench/restart)

CONCURRENCY = int(os.environ.get("SCALE_CONCURRENCY", "200"))
MAX_SECONDS = float(os.environ.get("SCALE_MAX_SECONDS", "900"))
RETRY_SECONDS = 0.1

CONNECTING, WAIT_CONNACK, WAIT_SUBACK, SUBSCRIBED, RETRY = range(5)


def connect_packet(client_id):
    # MQTT 3.1.1, clean session, keep alive 0.
    return packet(0x10, string("MQTT") + bytes([4, 0x02]) + struct.pack(">H", 0) + string(client_id))


def subscribe_packet(topic):
    return packet(0x82, struct.pack(">H", 1) + string(topic) + bytes([0]))


class Client:
    __slots__ = ("index", "sock", "state", "parser", "port", "retry_at", "was_subscribed")

    def __init__(self, index):
        self.index = index
        self.sock = None
        self.state = RETRY
        self.parser = Packets(None)
        self.port = 0
        self.retry_at = 0.0
        self.was_subscribed = False


def main():
    home, others, count, source, prefix, topic = sys.argv[1:7]
    home = int(home)
    others = [int(p) for p in others.split(",") if p]
    count = int(count)
    subscribe = subscribe_packet(topic)
    selector = selectors.EpollSelector()
    clients = [Client(i) for i in range(count)]
    pending = list(range(count - 1, -1, -1))  # to open, popped from the end
    in_progress = 0
    stats = {"connected": 0, "subscribed": 0, "delivered": 0, "lost": 0, "resubscribed": 0, "failed": 0}
    all_subscribed = 0.0
    all_resubscribed = 0.0
    lost_open = 0  # lost and not yet subscribed again
    next_other = 0
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    deadline = time.monotonic() + MAX_SECONDS
    last_line = None
    last_print = 0.0

    def report(force=False):
        nonlocal last_line, last_print
        now = time.monotonic()
        if not force and now - last_print < 0.05:
            return
        line = ("connected={connected} subscribed={subscribed} delivered={delivered} lost={lost} "
                "resubscribed={resubscribed} failed={failed}").format(**stats)
        line += f" all_subscribed={all_subscribed:.3f} all_resubscribed={all_resubscribed:.3f}"
        if line != last_line:
            print(f"{time.time():.3f} {line}", flush=True)
            last_line = line
        last_print = now

    def open_client(c, port):
        nonlocal in_progress
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((source, 0))
        c.sock, c.port, c.state = s, port, CONNECTING
        c.parser = Packets(None)
        in_progress += 1
        err = s.connect_ex(("127.0.0.1", port))
        if err not in (0, errno.EINPROGRESS):
            fail(c)
            return
        selector.register(s, selectors.EVENT_WRITE, c)

    def close(c):
        if c.sock is not None:
            try:
                selector.unregister(c.sock)
            except (KeyError, ValueError):
                pass
            c.sock.close()
            c.sock = None

    def fail(c):
        """The connection closed or was refused: count it, and open it again on another node."""
        nonlocal in_progress, lost_open, next_other, all_resubscribed
        if c.state in (CONNECTING, WAIT_CONNACK, WAIT_SUBACK):
            in_progress -= 1
        if c.state in (WAIT_SUBACK, SUBSCRIBED):
            stats["connected"] -= 1
        immediate = c.state == SUBSCRIBED
        if immediate:
            stats["subscribed"] -= 1
            stats["lost"] += 1
            lost_open += 1
            all_resubscribed = 0.0
        close(c)
        if not others:
            stats["failed"] += 1
            c.state = -1
            return
        c.state = RETRY
        c.port = others[next_other % len(others)]
        next_other += 1
        # A lost connection tries another node at once; a refused one waits a little.
        c.retry_at = time.monotonic() + (0 if immediate else RETRY_SECONDS)
        retries.append(c)

    retries = []

    def readable(c):
        nonlocal in_progress, lost_open, all_subscribed, all_resubscribed
        try:
            data = c.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            fail(c)
            return
        parser = c.parser
        parser.buffer = parser.buffer[parser.at:] + data
        parser.at = 0
        while (parsed := parser.parse()) is not None:
            first, body = parsed
            kind = first >> 4
            if kind == 3:
                stats["delivered"] += 1
            elif kind == 2 and c.state == WAIT_CONNACK:
                if body[1] != 0:  # refused (e.g. 3: the node is cut off from the cluster)
                    fail(c)
                    return
                stats["connected"] += 1
                c.state = WAIT_SUBACK
                c.sock.send(subscribe)
            elif kind == 9 and c.state == WAIT_SUBACK:
                in_progress -= 1
                c.state = SUBSCRIBED
                stats["subscribed"] += 1
                if c.was_subscribed:
                    stats["resubscribed"] += 1
                    lost_open -= 1
                    if lost_open == 0:
                        all_resubscribed = time.time()
                c.was_subscribed = True
                if stats["subscribed"] == count and not all_subscribed:
                    all_subscribed = time.time()

    while not stop and time.monotonic() < deadline:
        while pending and in_progress < CONCURRENCY:
            i = pending.pop()
            open_client(clients[i], home)
        if retries:
            now = time.monotonic()
            current = retries[:]
            retries.clear()
            for c in current:
                if c.retry_at <= now and in_progress < CONCURRENCY:
                    open_client(c, c.port)
                else:
                    retries.append(c)
        for key, mask in selector.select(timeout=0.05):
            c = key.data
            if c.sock is None:
                continue
            if c.state == CONNECTING:
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    fail(c)
                    continue
                selector.modify(c.sock, selectors.EVENT_READ, c)
                c.state = WAIT_CONNACK
                c.sock.send(connect_packet(f"{prefix}-{c.index}"))
            else:
                readable(c)
        report()
    report(force=True)
    for c in clients:
        if c.sock is not None:
            try:
                c.sock.send(b"\xe0\x00")
            except OSError:
                pass
            c.sock.close()


if __name__ == "__main__":
    main()
