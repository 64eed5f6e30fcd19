"""MQTT 5 shared subscriptions with paho-mqtt: two members of one $share group split the messages, and a
member of another group gets every message.

usage: shared_subscriptions.py HOST PORT [COUNT]
Prints "group-a member-1 N", "group-a member-2 N", "group-b member-1 N", then OK and exits 0; prints
FAIL: ... and exits 1 otherwise.
"""
import sys
import threading
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.subscribeoptions import SubscribeOptions

from mqtt_compat import host_port, make_client, wait_for

TIMEOUT = 15


def main():
    host, port = host_port()
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    topic = f"kirisame-test/paho-shared/{uuid.uuid4().hex}"
    suffix = uuid.uuid4().hex[:8]
    members = [("group-a", "member-1"), ("group-a", "member-2"), ("group-b", "member-1")]
    lock = threading.Lock()
    received = {member: [] for member in members}
    subscribed = set()

    clients = []
    for member in members:
        group, name = member
        client = make_client(f"paho-{group}-{name}-{suffix}", protocol=mqtt.MQTTv5)

        def on_connect(c, userdata, flags, reason_code, properties, member=member):
            if reason_code != 0:
                print(f"FAIL: {member} CONNACK {reason_code}", flush=True)
                return
            c.subscribe(f"$share/{member[0]}-{suffix}/{topic}", options=SubscribeOptions(qos=1))

        def on_subscribe(c, userdata, mid, reason_codes, properties, member=member):
            if any(code.value != 1 for code in reason_codes):
                print(f"FAIL: {member} SUBACK {[str(code) for code in reason_codes]}", flush=True)
                return
            with lock:
                subscribed.add(member)

        def on_message(c, userdata, msg, member=member):
            with lock:
                received[member].append(msg.payload.decode("utf-8"))

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = on_message
        client.connect(host, port, keepalive=30)
        client.loop_start()
        clients.append(client)

    wait_for(lambda: len(subscribed) == len(members), TIMEOUT, "every SUBACK")

    publisher = make_client(f"paho-shared-pub-{suffix}", protocol=mqtt.MQTTv5)
    publisher.connect(host, port, keepalive=30)
    publisher.loop_start()
    expected = [f"m{i}" for i in range(count)]
    for payload in expected:
        publisher.publish(topic, payload, qos=1).wait_for_publish(TIMEOUT)

    def all_arrived():
        with lock:
            group_a = len(received[members[0]]) + len(received[members[1]])
            return group_a >= count and len(received[members[2]]) >= count

    wait_for(all_arrived, TIMEOUT, "every message in both groups")
    for client in clients + [publisher]:
        client.disconnect()
        client.loop_stop()

    first, second, other = (received[member] for member in members)
    for (group, name), messages in received.items():
        print(f"{group} {name} {len(messages)}", flush=True)
    problems = []
    if sorted(first + second) != sorted(expected):
        problems.append(f"group-a together got {sorted(first + second)}, not each message once")
    if not first or not second:
        problems.append("one member of group-a got nothing")
    if sorted(other) != sorted(expected):
        problems.append(f"group-b got {sorted(other)}, not every message once")
    if problems:
        print("FAIL: " + "; ".join(problems), flush=True)
        sys.exit(1)
    print("OK", flush=True)


if __name__ == "__main__":
    main()
