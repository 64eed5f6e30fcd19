"""MQTT 5 subscription identifiers with paho-mqtt: SUBSCRIBE carries a SubscriptionIdentifier property,
and a message matching two overlapping subscriptions arrives once, listing both identifiers.

usage: subscription_identifiers.py HOST PORT
Subscribes ROOT/+ with identifier 5 and ROOT/a with identifier 9, publishes to ROOT/a then ROOT/b, and
prints one line per message, "TOPIC-SUFFIX ids=5,9", then "a copies=N", then OK. A server may send one
copy per matching subscription instead of one copy with both identifiers (MQTT 5.0 section 3.3.4), so the
script checks that the copies of ROOT/a together carry 5 and 9 and leaves the number of copies to the
caller. Prints FAIL: ... and exits 1 otherwise.
"""
import sys
import threading
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from mqtt_compat import host_port, make_client, wait_for

TIMEOUT = 15


def main():
    host, port = host_port()
    root = f"kirisame-test/paho-subid/{uuid.uuid4().hex}"
    lock = threading.Lock()
    received = []
    acked = set()
    connected = threading.Event()

    client = make_client(f"paho-subid-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5)
    client.on_connect = lambda c, userdata, flags, reason_code, properties: connected.set()

    def on_subscribe(c, userdata, mid, reason_codes, properties):
        with lock:
            acked.add(mid)

    def on_message(c, userdata, msg):
        ids = getattr(msg.properties, "SubscriptionIdentifier", []) if msg.properties else []
        with lock:
            received.append((msg.topic[len(root) + 1:], sorted(ids)))

    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(host, port, keepalive=30)
    client.loop_start()
    wait_for(connected.is_set, TIMEOUT, "CONNACK")

    mids = []
    for topic_filter, identifier in ((f"{root}/+", 5), (f"{root}/a", 9)):
        properties = Properties(PacketTypes.SUBSCRIBE)
        properties.SubscriptionIdentifier = identifier
        result, mid = client.subscribe(topic_filter, options=SubscribeOptions(qos=1), properties=properties)
        if result != mqtt.MQTT_ERR_SUCCESS:
            print(f"FAIL: subscribe {topic_filter} returned {result}", flush=True)
            sys.exit(1)
        mids.append(mid)

    def all_acked():
        with lock:
            return all(mid in acked for mid in mids)

    wait_for(all_acked, TIMEOUT, "both SUBACKs")

    # Published in order by one client at QoS 1: ROOT/b arriving means ROOT/a's copies have all arrived.
    client.publish(f"{root}/a", "both", qos=1).wait_for_publish(TIMEOUT)
    client.publish(f"{root}/b", "wildcard only", qos=1).wait_for_publish(TIMEOUT)

    def b_arrived():
        with lock:
            return any(topic == "b" for topic, _ in received)

    wait_for(b_arrived, TIMEOUT, f"the message on {root}/b")
    client.disconnect()
    client.loop_stop()

    with lock:
        for topic, ids in received:
            print(f"{topic} ids={','.join(str(i) for i in ids)}", flush=True)
        copies = [ids for topic, ids in received if topic == "a"]
        print(f"a copies={len(copies)}", flush=True)
        if sorted(i for ids in copies for i in ids) != [5, 9] or [ids for topic, ids in received if topic == "b"] != [[5]]:
            print(f"FAIL: expected ROOT/a with identifiers 5 and 9 and ROOT/b with 5, got {received!r}", flush=True)
            sys.exit(1)
    print("OK", flush=True)


if __name__ == "__main__":
    main()
