"""A subscriber on $SYS/# receives broker statistics.

usage: sys_topics.py HOST PORT [TOPIC...]
Waits until every listed $SYS topic (default: version, uptime, clients/connected) has been received, prints
each as "topic payload", then OK. Exits 1 with the missing topics if the deadline passes.
"""
import sys
import threading

from mqtt_compat import host_port, make_client, wait_for

TIMEOUT = 20
DEFAULT_TOPICS = ["$SYS/broker/version", "$SYS/broker/uptime", "$SYS/broker/clients/connected"]


def main():
    host, port = host_port()
    wanted = sys.argv[3:] or DEFAULT_TOPICS
    lock = threading.Lock()
    seen = {}

    client = make_client(f"paho-sys-{port}")
    client.on_connect = lambda c, userdata, flags, rc: c.subscribe("$SYS/#", qos=0)

    def on_message(c, userdata, msg):
        with lock:
            seen.setdefault(msg.topic, msg.payload.decode("utf-8", "replace"))

    client.on_message = on_message
    client.connect(host, port, keepalive=30)
    client.loop_start()

    def all_seen():
        with lock:
            return all(topic in seen for topic in wanted)

    try:
        wait_for(all_seen, TIMEOUT, "$SYS topics")
    except SystemExit:
        with lock:
            print("missing: " + ", ".join(t for t in wanted if t not in seen), flush=True)
            print("seen: " + ", ".join(sorted(seen)), flush=True)
        raise
    finally:
        client.disconnect()
        client.loop_stop()

    with lock:
        for topic in wanted:
            print(f"{topic} {seen[topic]}", flush=True)
    print("OK", flush=True)


if __name__ == "__main__":
    main()
