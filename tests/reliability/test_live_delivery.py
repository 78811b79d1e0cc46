"""Live frames when the channel layer is idle, full or behind a slow reader.

Against the real Redis channel layer: these are the ways a nurse's page could
silently stop being current.
"""

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from channels_redis.core import RedisChannelLayer
from django.conf import settings
from django.test import Client
from django.utils import timezone

from medtwin.asgi import application
from twins.ingest import ingest
from twins.models import TwinState
from twins.vitals import Source

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

# Longer than the layer's 5 s blocking pop, so a read timeout equal to it
# (redis-py 8's default) would close the idle socket here.
IDLE_SECONDS = 12


@sync_to_async
def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def open_ward_socket(ward, user) -> WebsocketCommunicator:
    headers = [
        (b"origin", b"http://localhost"),
        (b"host", b"localhost"),
        (b"cookie", await session_cookie(user)),
    ]
    socket = WebsocketCommunicator(application, f"/ws/wards/{ward.code}/", headers)
    connected, _ = await socket.connect()
    assert connected
    frame = await socket.receive_json_from(timeout=5)
    assert frame["type"] == "ward.snapshot"
    return socket


def heart_rate(bed: str, value: float, second: int) -> dict:
    """Build a heart-rate reading ``second`` seconds into a stretch 10 min ago."""
    at = timezone.now().replace(microsecond=0) - timezone.timedelta(minutes=10)
    return {
        "bed": bed,
        "device": "monitor-1",
        "timestamp": (at + timezone.timedelta(seconds=second)).isoformat(),
        "parameter": "heart_rate",
        "value": value,
        "unit": "/min",
    }


def post_heart_rate(bed: str, value: float, second: int) -> None:
    ingest([heart_rate(bed, value, second)], Source.DEVICE)


async def next_frame_of_type(socket, frame_type: str, timeout: float = 5) -> dict:
    while True:
        frame = await socket.receive_json_from(timeout=timeout)
        if frame["type"] == frame_type:
            return frame


async def test_idle_socket_still_receives(ward, nurse):
    socket = await open_ward_socket(ward, nurse)
    await asyncio.sleep(IDLE_SECONDS)
    await sync_to_async(post_heart_rate)("icu1-bed03", 91, 0)
    frame = await next_frame_of_type(socket, "bed.updated")
    assert frame["bed"]["bed"] == "icu1-bed03"
    assert frame["bed"]["vitals"]["heart_rate"]["value"] == 91
    await socket.disconnect()


async def test_full_channel_shows_as_sequence_gap(ward):
    """Check that frames lost to a full channel show as a sequence jump.

    A reader that stops draining loses frames once its channel is full, and
    the per-bed sequence of the next frame it gets reveals the loss.
    """
    layer = get_channel_layer()
    capacity = layer.capacity
    channel = await layer.new_channel()
    await layer.group_add(ward.group_name, channel)
    try:
        sent = capacity + 20
        for second in range(sent):
            await sync_to_async(post_heart_rate)("icu1-bed07", 60 + second % 40, second)
        received = []
        while True:
            try:
                message = await asyncio.wait_for(layer.receive(channel), 1)
            except TimeoutError:
                break
            [bed] = message["beds"]
            received.append(bed["sequence"])
        assert len(received) == capacity < sent
        assert received == sorted(received)

        # The reader drains; the next frame jumps past the frames it lost.
        await sync_to_async(post_heart_rate)("icu1-bed07", 88, sent)
        message = await asyncio.wait_for(layer.receive(channel), 5)
        latest = await sync_to_async(TwinState.objects.get)(bed__code="icu1-bed07")
        [bed] = message["beds"]
        assert bed["sequence"] == latest.sequence == sent + 1
        assert bed["sequence"] > received[-1] + 1
    finally:
        await layer.group_discard(ward.group_name, channel)


async def test_resync_after_gap_returns_current_state(ward, nurse):
    socket = await open_ward_socket(ward, nurse)
    for second in range(3):
        await sync_to_async(post_heart_rate)("icu1-bed02", 70 + second, second)
    await socket.send_json_to({"type": "resync"})
    snapshot = await next_frame_of_type(socket, "ward.snapshot")
    beds = {bed["bed"]: bed for bed in snapshot["beds"]}
    assert beds["icu1-bed02"]["sequence"] == 3
    assert beds["icu1-bed02"]["vitals"]["heart_rate"]["value"] == 72
    await socket.disconnect()


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        "null",
        '{"type": 5}',
        '{"type": "drop_tables"}',
        '{"no_type": true}',
    ],
)
async def test_bad_socket_message_keeps_socket(ward, nurse, text):
    socket = await open_ward_socket(ward, nurse)
    await socket.send_to(text_data=text)
    await socket.send_json_to({"type": "resync"})
    frames = []
    while not frames or frames[-1]["type"] != "ward.snapshot":
        frames.append(await socket.receive_json_from(timeout=5))
    errors = [frame for frame in frames if frame["type"] == "error"]
    assert errors
    for error in errors:
        assert error["field"]
        assert "value" in error
        assert error["message"]
    await socket.disconnect()


def group_send_blocking(group: str, message: dict) -> None:
    """Send ``message`` from another thread while this event loop is blocked.

    A blocked loop is a busy daphne: Redis hands the message to the consumer
    waiting in BZPOPMIN before that consumer's task can run again.
    """
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]

    async def send():
        sender = RedisChannelLayer(**config)
        await sender.group_send(group, message)
        await sender.close_pools()

    thread = threading.Thread(target=asyncio.run, args=(send(),))
    thread.start()
    thread.join()


async def test_page_closing_while_popping_loses_no_frame():
    layer = get_channel_layer()
    group = "test-closing-page"
    closing, staying = await layer.new_channel(), await layer.new_channel()
    await layer.group_add(group, closing)
    await layer.group_add(group, staying)
    # The first receiver takes the receive lock and pops for the process.
    popping = asyncio.ensure_future(layer.receive(closing))
    await asyncio.sleep(0.2)
    waiting = asyncio.ensure_future(layer.receive(staying))
    await asyncio.sleep(0.2)
    try:
        await layer.group_discard(group, closing)
        group_send_blocking(group, {"type": "bed.updated", "sequence": 1})
        # Channels cancels the receive of a consumer whose socket closed.
        popping.cancel()

        message = await asyncio.wait_for(waiting, 7)

        assert message == {"type": "bed.updated", "sequence": 1}
    finally:
        waiting.cancel()
        await layer.group_discard(group, staying)
        await layer.flush()
