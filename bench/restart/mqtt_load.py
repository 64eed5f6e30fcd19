#!/usr/bin/env python3
"""Raw-socket MQTT helpers for bench/restart/restart.sh (standard library only).

  mqtt_load.py sessions PORT COUNT     COUNT persistent MQTT 5 sessions "restart-s<i>" (Session Expiry one day),
                                       each subscribed to "restart/s/<i>" at QoS 1, then disconnected
  mqtt_load.py retained PORT COUNT     COUNT retained QoS 0 messages on "restart/r/<i>" (MQTT 3.1.1, a few
                                       connections, pipelined; a PINGREQ round trip at the end)
  mqtt_load.py probe PORT TOPIC CLIENT polls until the broker accepts a connection, then checks that CLIENT's
                                       session is present (CONNACK) and that TOPIC's retained message arrives;
                                       prints the wall-clock time (ns) at which it did
  mqtt_load.py queues PORT COUNT DEPTH PAYLOAD
                                       COUNT persistent MQTT 5 sessions "restart-q<i>" (Session Expiry one day)
                                       subscribed to "restart/q/<i>" at QoS 1, then disconnected; then DEPTH QoS 1
                                       messages of PAYLOAD bytes (random, numbered) published to each topic, one
                                       pipelined 3.1.1 connection per topic, every one acknowledged (PUBACK)
  mqtt_load.py probe-queue PORT CLIENT [DRAIN]
                                       polls until the broker accepts a connection, resumes CLIENT's session (CONNACK
                                       session present) and waits for its first queued message; prints the times (ns)
                                       of both. It acknowledges nothing (the queue is the same at the next start)
                                       unless DRAIN > 0: then it acknowledges and reads DRAIN messages in order
                                       and prints the time it had them all as well
"""
import random
import asyncio
import socket
import struct
import sys
import time

SESSION_EXPIRY = 86400
WORKERS = 64
SOURCES = 8  # source addresses 127.0.0.2..: 100 000 short connections would exhaust one address's ports


def varint(n):
    out = bytearray()
    while True:
        n, digit = n >> 7, n & 0x7F
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def string(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def packet(first, body):
    return bytes([first]) + varint(len(body)) + body


def connect(client_id, version, clean, expiry=None):
    props = b""
    if version == 5:
        p = b"" if expiry is None else b"\x11" + struct.pack(">I", expiry)
        props = varint(len(p)) + p
    flags = 0x02 if clean else 0x00
    return packet(0x10, string("MQTT") + bytes([version, flags]) + struct.pack(">H", 60) + props + string(client_id))


def subscribe(topic, version, packet_id=1):
    props = b"\x00" if version == 5 else b""
    return packet(0x82, struct.pack(">H", packet_id) + props + string(topic) + b"\x01")


def publish_retained(topic, payload):
    return packet(0x31, string(topic) + payload)


async def read_packet(reader):
    first = (await reader.readexactly(1))[0]
    length, shift = 0, 0
    while True:
        b = (await reader.readexactly(1))[0]
        length |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return first, await reader.readexactly(length)


async def open_from(port, index):
    source = f"127.0.0.{2 + index % SOURCES}"
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def sessions(port, count):
    next_index = iter(range(count))

    async def worker(w):
        for i in next_index:
            reader, writer = await open_from(port, w)
            writer.write(connect(f"restart-s{i}", 5, clean=True, expiry=SESSION_EXPIRY)
                         + subscribe(f"restart/s/{i}", 5) + b"\xe0\x00")
            first, body = await read_packet(reader)
            if first != 0x20 or body[1] != 0:
                raise SystemExit(f"restart-s{i}: CONNACK refused ({body.hex()})")
            first, body = await read_packet(reader)
            if first != 0x90 or body[-1] != 1:
                raise SystemExit(f"restart-s{i}: SUBACK refused ({body.hex()})")
            await reader.read()  # the broker closes after DISCONNECT
            writer.close()

    await asyncio.gather(*(worker(w) for w in range(WORKERS)))


async def retained(port, count):
    connections = 4
    payload = b"retained payload, 32 bytes long!"

    async def publisher(c):
        reader, writer = await open_from(port, c)
        writer.write(connect(f"restart-retainer-{c}", 4, clean=True))
        first, body = await read_packet(reader)
        if first != 0x20 or body[1] != 0:
            raise SystemExit(f"retainer {c}: CONNACK refused ({body.hex()})")
        batch = bytearray()
        for i in range(c, count, connections):
            batch += publish_retained(f"restart/r/{i}", payload)
            if len(batch) > 1 << 20:
                writer.write(batch)
                await writer.drain()
                batch = bytearray()
        writer.write(bytes(batch) + b"\xc0\x00")  # PINGREQ: its PINGRESP follows every PUBLISH before it
        first, _ = await read_packet(reader)
        if first != 0xD0:
            raise SystemExit(f"retainer {c}: expected PINGRESP, got 0x{first:02x}")
        writer.write(b"\xe0\x00")
        writer.close()

    await asyncio.gather(*(publisher(c) for c in range(connections)))


async def open_when_accepting(port, timeout):
    """Connects as soon as the restarted broker accepts; returns the streams and when (ns) it accepted."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            return reader, writer, time.time_ns()
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"nothing accepted connections on port {port} within {timeout} s")
            await asyncio.sleep(0.01)


async def probe(port, topic, client_id, timeout=120):
    reader, writer, accepted = await open_when_accepting(port, timeout)
    # Resume the stored session: CONNACK must say it is present.
    writer.write(connect(client_id, 5, clean=False, expiry=SESSION_EXPIRY))
    first, body = await asyncio.wait_for(read_packet(reader), timeout)
    if first != 0x20 or body[1] != 0 or not body[0] & 1:
        raise SystemExit(f"{client_id}: session not restored (CONNACK {body.hex()})")
    writer.write(subscribe(topic, 5, packet_id=7))
    while True:
        first, body = await asyncio.wait_for(read_packet(reader), timeout)
        if first >> 4 == 3:
            (length,) = struct.unpack(">H", body[:2])
            if body[2:2 + length].decode() == topic and first & 1:
                break
    received = time.time_ns()
    writer.write(b"\xe0\x00")
    writer.close()
    print(accepted, received)


async def queues(port, count, depth, payload_size):
    for i in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(connect(f"restart-q{i}", 5, clean=True, expiry=SESSION_EXPIRY)
                     + subscribe(f"restart/q/{i}", 5) + b"\xe0\x00")
        first, body = await read_packet(reader)
        if first != 0x20 or body[1] != 0:
            raise SystemExit(f"restart-q{i}: CONNACK refused ({body.hex()})")
        first, body = await read_packet(reader)
        if first != 0x90 or body[-1] != 1:
            raise SystemExit(f"restart-q{i}: SUBACK refused ({body.hex()})")
        await reader.read()
        writer.close()

    noise = random.Random(13).randbytes(1 << 20)
    window = 1024

    async def publisher(i):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(connect(f"restart-qpub-{i}", 4, clean=True))
        first, body = await read_packet(reader)
        if first != 0x20 or body[1] != 0:
            raise SystemExit(f"publisher {i}: CONNACK refused ({body.hex()})")
        topic = string(f"restart/q/{i}")
        sent = acked = 0
        leftover = 0
        while acked < depth:
            batch = bytearray()
            while sent < depth and sent - acked < window:
                head = f"{sent} ".encode()
                fill = max(0, payload_size - len(head))
                offset = (sent * 7919) % (len(noise) - fill)
                packet_id = sent % 65535 + 1
                batch += packet(0x32, topic + struct.pack(">H", packet_id) + head + noise[offset:offset + fill])
                sent += 1
            if batch:
                writer.write(bytes(batch))
                await writer.drain()
            data = await reader.read(65536)
            if not data:
                raise SystemExit(f"publisher {i}: the broker closed the connection")
            # Only PUBACKs (4 bytes each) come back on a publisher's connection.
            leftover += len(data)
            acked += leftover // 4
            leftover %= 4
        writer.write(b"\xe0\x00")
        writer.close()

    await asyncio.gather(*(publisher(i) for i in range(count)))


class Packets:
    """MQTT packets from a stream, parsed from a buffer (reading a byte at a time is too slow for a deep queue)."""

    def __init__(self, reader):
        self.reader = reader
        self.buffer = b""
        self.at = 0

    def parse(self):
        buf, at = self.buffer, self.at
        if len(buf) - at < 2:
            return None
        length, shift, pos = 0, 0, at + 1
        while True:
            if pos >= len(buf):
                return None
            b = buf[pos]
            length |= (b & 0x7F) << shift
            shift += 7
            pos += 1
            if not b & 0x80:
                break
        if len(buf) - pos < length:
            return None
        self.at = pos + length
        return buf[at], buf[pos:pos + length]

    async def next(self):
        while True:
            parsed = self.parse()
            if parsed is not None:
                return parsed
            data = await self.reader.read(1 << 16)
            if not data:
                raise SystemExit("the broker closed the connection")
            self.buffer = self.buffer[self.at:] + data
            self.at = 0


async def probe_queue(port, client_id, drain, timeout=600):
    reader, writer, accepted = await open_when_accepting(port, timeout)
    packets = Packets(reader)
    writer.write(connect(client_id, 5, clean=False, expiry=SESSION_EXPIRY))
    first, body = await asyncio.wait_for(packets.next(), timeout)
    if first != 0x20 or body[1] != 0 or not body[0] & 1:
        raise SystemExit(f"{client_id}: session not restored (CONNACK {body.hex()})")
    received = 0
    first_at = None
    expected = 0
    while True:
        first, body = await asyncio.wait_for(packets.next(), timeout)
        if first >> 4 != 3:
            continue
        if first_at is None:
            first_at = time.time_ns()
        if drain <= 0:
            break
        (length,) = struct.unpack(">H", body[:2])
        packet_id = body[2 + length:4 + length]
        props, at = 0, 4 + length
        shift = 0
        while True:
            b = body[at]
            props |= (b & 0x7F) << shift
            shift += 7
            at += 1
            if not b & 0x80:
                break
        number = int(body[at + props:].split(b" ", 1)[0])
        if number < expected:
            if not first & 0x08:
                raise SystemExit(f"{client_id}: message {number} again without DUP")
        elif number != expected:
            raise SystemExit(f"{client_id}: message {number} where {expected} was due: out of order or lost")
        else:
            expected += 1
        writer.write(b"\x40\x02" + packet_id)
        received = expected
        if received >= drain:
            break
    done = time.time_ns()
    writer.write(b"\xe0\x00")
    await writer.drain()
    writer.close()
    print(accepted, first_at, done)


def main(argv):
    if len(argv) >= 3 and argv[0] in ("sessions", "retained"):
        run = sessions if argv[0] == "sessions" else retained
        asyncio.run(run(int(argv[1]), int(argv[2])))
    elif len(argv) == 4 and argv[0] == "probe":
        asyncio.run(probe(int(argv[1]), argv[2], argv[3]))
    elif len(argv) == 5 and argv[0] == "queues":
        asyncio.run(queues(int(argv[1]), int(argv[2]), int(argv[3]), int(argv[4])))
    elif len(argv) in (3, 4) and argv[0] == "probe-queue":
        asyncio.run(probe_queue(int(argv[1]), argv[2], int(argv[3]) if len(argv) == 4 else 0))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
