"""The ward WebSocket: role checks, snapshot, live frames, bad messages.

These use the Channels communicator against the real Redis channel layer.
"""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from medtwin.asgi import application
from twins.consumers import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, CLOSE_UNAUTHENTICATED
from twins.ingest import ingest
from twins.vitals import Source

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@sync_to_async
def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def communicator(path: str, user=None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    if user is not None:
        headers.append((b"cookie", await session_cookie(user)))
    return WebsocketCommunicator(application, path, headers=headers)


async def refused_with(path, user) -> int:
    socket = await communicator(path, user)
    connected, code = await socket.connect()
    assert connected is False
    return code


async def test_ward_socket_anonymous_closed(ward):
    assert await refused_with("/ws/wards/icu-1/", None) == CLOSE_UNAUTHENTICATED


async def test_ward_socket_unassigned_nurse_forbidden(ward):
    from tests.conftest import _user

    other = await sync_to_async(_user)("nurse-2", "nurse")
    assert await refused_with("/ws/wards/icu-1/", other) == CLOSE_FORBIDDEN


async def test_ward_socket_auditor_forbidden(ward, auditor):
    assert await refused_with("/ws/wards/icu-1/", auditor) == CLOSE_FORBIDDEN


async def test_ward_socket_no_role_forbidden(ward, no_role_user):
    assert await refused_with("/ws/wards/icu-1/", no_role_user) == CLOSE_FORBIDDEN


async def test_ward_socket_unknown_ward(ward, nurse):
    assert await refused_with("/ws/wards/nowhere/", nurse) == CLOSE_NOT_FOUND


async def test_ward_socket_snapshot_then_live_frame(ward, nurse):
    socket = await communicator("/ws/wards/icu-1/", nurse)
    connected, _ = await socket.connect()
    assert connected
    snapshot = await socket.receive_json_from(timeout=5)
    assert snapshot["type"] == "ward.snapshot"
    assert len(snapshot["beds"]) == 12

    batch = [
        {
            "bed": "icu1-bed03",
            "device": "monitor-3",
            "timestamp": timezone.now().isoformat(),
            "parameter": "spo2",
            "value": 91,
            "unit": "%",
        }
    ]
    await sync_to_async(ingest)(batch, Source.DEVICE)

    frame = await socket.receive_json_from(timeout=5)
    assert frame["type"] == "bed.updated"
    assert frame["bed"]["bed"] == "icu1-bed03"
    assert frame["bed"]["vitals"]["spo2"]["value"] == 91
    assert frame["bed"]["news2"]["scores"]["spo2"] == 3
    assert frame["bed"]["sequence"] == 1
    await socket.disconnect()


async def test_ward_socket_admin_allowed(ward, admin_user):
    socket = await communicator("/ws/wards/icu-1/", admin_user)
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_json_from(timeout=5))["type"] == "ward.snapshot"
    await socket.disconnect()


async def test_ward_socket_resync_sends_snapshot(ward, nurse):
    socket = await communicator("/ws/wards/icu-1/", nurse)
    await socket.connect()
    await socket.receive_json_from(timeout=5)
    await socket.send_json_to({"type": "resync"})
    assert (await socket.receive_json_from(timeout=5))["type"] == "ward.snapshot"
    await socket.disconnect()


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ('{"type": "delete_everything"}', "type", "delete_everything"),
        ("[1, 2]", "type", None),
        ("not json", "message", "not json"),
    ],
)
async def test_ward_socket_bad_message_named(ward, nurse, text, field, value):
    socket = await communicator("/ws/wards/icu-1/", nurse)
    await socket.connect()
    await socket.receive_json_from(timeout=5)
    await socket.send_to(text_data=text)
    error = await socket.receive_json_from(timeout=5)
    assert error["type"] == "error"
    assert error["field"] == field
    assert error["value"] == value
    await socket.disconnect()
