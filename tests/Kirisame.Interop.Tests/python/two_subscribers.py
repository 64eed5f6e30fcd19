"""Two subscribers on my/topic/string both receive "hello world" published at QoS 1 by a third client.

usage: two_subscribers.py HOST PORT [TOPIC]
Prints OK and exits 0 on success; prints FAIL: ... and exits 1 otherwise.
"""
import sys
import threading

from mqtt_compat import host_port, make_client, wait_for

TIMEOUT = 15


def main():
    host, port = host_port()
    topic = sys.argv[3] if len(sys.argv) > 3 else "my/topic/string"
    lock = threading.Lock()
    received = {"sub-a": [], "sub-b": []}
    subscribed = set()
    published = threading.Event()

    subscribers = []
    for name in received:
        client = make_client(f"paho-{name}-{port}")

        def on_connect(c, userdata, flags, rc, name=name):
            if rc != 0:
                print(f"FAIL: {name} CONNACK rc={rc}", flush=True)
                return
            c.subscribe(topic, qos=1)

        def on_subscribe(c, userdata, mid, granted_qos, name=name):
            with lock:
                subscribed.add(name)

        def on_message(c, userdata, msg, name=name):
            with lock:
                received[name].append((msg.topic, msg.payload.decode("utf-8"), msg.qos))

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = on_message
        client.connect(host, port, keepalive=30)
        client.loop_start()
        subscribers.append(client)

    wait_for(lambda: len(subscribed) == 2, TIMEOUT, "both SUBACKs")

    publisher = make_client(f"paho-pub-{port}")
    publisher.on_publish = lambda c, userdata, mid: published.set()
    publisher.connect(host, port, keepalive=30)
    publisher.loop_start()
    publisher.publish(topic, "hello world", qos=1)
    wait_for(published.is_set, TIMEOUT, "PUBACK for the QoS 1 publish")

    def both_received():
        with lock:
            return all(len(messages) >= 1 for messages in received.values())

    wait_for(both_received, TIMEOUT, "both subscribers to receive the message")
    for client in subscribers + [publisher]:
        client.disconnect()
        client.loop_stop()

    for name, messages in received.items():
        if messages != [(topic, "hello world", 1)]:
            print(f"FAIL: {name} received {messages!r}", flush=True)
            sys.exit(1)
    print("OK", flush=True)


if __name__ == "__main__":
    main()
