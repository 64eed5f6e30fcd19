#!/usr/bin/env python3
"""Persistent sessions for bench/cluster/evacuation.sh (MQTT 3.1.1 over raw sockets, no library).

  evacuation_clients.py leave PORT COUNT     COUNT sessions (clean session 0, ids evac-N) subscribed at QoS 1 to evac/N,
                                             each disconnected, then one QoS 1 message published to each topic.
  evacuation_clients.py return PORT COUNT    each id connects again with clean session 0; prints how many CONNACKs had
                                             Session Present and how many of the queued messages arrived.
"""
import os
import socket
import struct
import sys

# The packet encoders of the restart benchmark's helpers (same standard-library MQTT).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "restart"))
from mqtt_load import connect as connect_packet, packet, string as utf8  # noqa: E402


def read_packet(sock):
    header = sock.recv(1)
    if not header:
        raise ConnectionError("closed")
    length, shift = 0, 0
    while True:
        byte = sock.recv(1)[0]
        length += (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            raise ConnectionError("closed")
        body += chunk
    return header[0], body


def connect(port, client_id, clean):
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(connect_packet(client_id, 4, clean))
    kind, body = read_packet(sock)
    if kind >> 4 != 2 or body[1] != 0:
        raise RuntimeError(f"CONNACK refused for {client_id}: {body!r}")
    return sock, bool(body[0] & 1)


def leave(port, count):
    for i in range(count):
        sock, _ = connect(port, f"evac-{i}", clean=False)
        sock.sendall(packet(0x82, struct.pack("!H", 1) + utf8(f"evac/{i}") + bytes([1])))
        read_packet(sock)  # SUBACK
        sock.sendall(packet(0xE0, b""))
        sock.close()
    sock, _ = connect(port, "evac-publisher", clean=True)
    for i in range(count):
        sock.sendall(packet(0x32, utf8(f"evac/{i}") + struct.pack("!H", i % 65535 + 1) + f"queued {i}".encode()))
    for _ in range(count):
        read_packet(sock)  # PUBACK
    sock.sendall(packet(0xE0, b""))
    sock.close()
    print(f"{count} sessions left with one queued message each")


def come_back(port, count):
    present = received = 0
    for i in range(count):
        sock, session_present = connect(port, f"evac-{i}", clean=False)
        present += session_present
        sock.settimeout(5)
        try:
            kind, body = read_packet(sock)
            if kind >> 4 == 3:
                received += 1
                packet_id = body[2 + struct.unpack("!H", body[:2])[0]:][:2]
                sock.sendall(packet(0x40, packet_id))
        except (socket.timeout, ConnectionError):
            pass
        sock.sendall(packet(0xE0, b""))
        sock.close()
    print(f"returned: {present} of {count} with Session Present, {received} of {count} queued messages received")


if __name__ == "__main__":
    mode, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    (leave if mode == "leave" else come_back)(port, count)
