"""paho-mqtt 1.x and 2.x differ in how a Client is made; everything else these scripts use is shared."""
import sys
import time

import paho.mqtt.client as mqtt


def make_client(client_id, protocol=mqtt.MQTTv311):
    api = getattr(mqtt, "CallbackAPIVersion", None)
    if api is not None:  # paho-mqtt 2.x: keep the 1.x callback signatures
        return mqtt.Client(api.VERSION1, client_id=client_id, protocol=protocol)
    return mqtt.Client(client_id=client_id, protocol=protocol)


def host_port():
    if len(sys.argv) < 3:
        sys.exit(f"usage: {sys.argv[0]} HOST PORT")
    return sys.argv[1], int(sys.argv[2])


def wait_for(condition, timeout, what):
    """Polls condition until it holds; exits with status 1 naming what was awaited if it never does."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            print(f"FAIL: timed out waiting for {what}", flush=True)
            sys.exit(1)
        time.sleep(0.02)
