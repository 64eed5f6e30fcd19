#!/usr/bin/env python3
"""Raw-socket MQTT helpers for bench/restart/restart.sh (standard library only).

  mqtt_load.py sessions PORT COUNT     COUNT persistent MQTT 5 sessions "restart-s<i>" (Session Expiry one day),
                                       each subscribed to "restart/s/<i>" at QoS 1, then disconnected
  mqtt_load.py retained PORT COUNT     COUNT retained QoS 0 messages on "restart/r/<i>" (MQTT 3.1.1, a few
                                       connections, pipelined; a PINGREQ round trip at the end)
  mqtt_load.py probe PORT TOPIC CLIENT polls until the broker accepts a connection, then checks that CLIENT's
                                       session is present (CONNACK) and that TOPIC's retained message arrives;
                                       prints the wall-clock time (ns) at which it did
"""
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


async def probe(port, topic, client_id, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"nothing accepted connections on port {port} within {timeout} s")
            await asyncio.sleep(0.01)
    accepted = time.time_ns()
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


def main(argv):
    if len(argv) >= 3 and argv[0] in ("sessions", "retained"):
        run = sessions if argv[0] == "sessions" else retained
        asyncio.run(run(int(argv[1]), int(argv[2])))
    elif len(argv) == 4 and argv[0] == "probe":
        asyncio.run(probe(int(argv[1]), argv[2], argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
