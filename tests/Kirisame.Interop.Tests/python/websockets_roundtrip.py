"""Subscribe and publish over MQTT-over-WebSockets with paho-mqtt: HOST PORT PATH [CAFILE].

With CAFILE the connection is wss:// and the server certificate must chain to it. Prints OK on success.
A payload larger than one WebSocket frame from paho checks that packets split across frames arrive whole."""
import sys

import paho.mqtt.client as mqtt

from mqtt_compat import host_port, make_client, wait_for

host, port = host_port()
path = sys.argv[3]
cafile = sys.argv[4] if len(sys.argv) > 4 else None


def make(name):
    client = make_client(name, transport="websockets")
    client.ws_set_options(path=path)
    if cafile:
        client.tls_set(ca_certs=cafile)
    return client


received = []
connected = []
subscriber = make("ws-sub")
subscriber.on_connect = lambda c, u, f, rc: connected.append(rc)
subscriber.on_message = lambda c, u, m: received.append((m.topic, m.payload))
subscriber.connect(host, port)
subscriber.loop_start()
wait_for(lambda: connected, 10, "CONNACK")
if connected[0] != 0:
    print(f"FAIL: CONNACK {connected[0]}", flush=True)
    sys.exit(1)

subscribed = []
subscriber.on_subscribe = lambda c, u, mid, granted: subscribed.append(granted)
subscriber.subscribe("ws/test/#", qos=1)
wait_for(lambda: subscribed, 10, "SUBACK")

publisher = make("ws-pub")
publisher.connect(host, port)
publisher.loop_start()
big = bytes(range(256)) * 400  # 100 KiB
publisher.publish("ws/test/small", b"hello", qos=1).wait_for_publish()
publisher.publish("ws/test/big", big, qos=1).wait_for_publish()
wait_for(lambda: len(received) >= 2, 10, "both messages")
publisher.loop_stop()
subscriber.loop_stop()

assert received[0] == ("ws/test/small", b"hello"), received[0]
assert received[1] == ("ws/test/big", big), "big payload differs"
print("OK", flush=True)
