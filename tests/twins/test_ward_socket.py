"""The ward WebSocket: role checks, snapshot, live frames, bad messages.

These use the Channels communicator against the real Redis channel layer.
"""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from medtwin.asgi import application
from twins import alerts
from twins.consumers import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, CLOSE_UNAUTHENTICATED
from twins.ingest import ingest
from twins.models import AlertAction, Bed, Patient, Ward
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


async def rejection_code(path, user) -> int:
    """Return the close code of a refused socket; no frame comes before it.

    The socket is accepted and closed at once, so the browser receives the
    code instead of a failed handshake.
    """
    socket = await communicator(path, user)
    connected, _ = await socket.connect()
    assert connected is True
    output = await socket.receive_output(timeout=5)
    assert output["type"] == "websocket.close"
    await socket.wait()
    return output["code"]


async def test_ward_socket_anonymous_closed(ward):
    assert await rejection_code("/ws/wards/icu-1/", None) == CLOSE_UNAUTHENTICATED


async def test_ward_socket_unassigned_nurse_forbidden(ward):
    from tests.conftest import _user

    other = await sync_to_async(_user)("nurse-2", "nurse")
    assert await rejection_code("/ws/wards/icu-1/", other) == CLOSE_FORBIDDEN


async def test_ward_socket_auditor_forbidden(ward, auditor):
    assert await rejection_code("/ws/wards/icu-1/", auditor) == CLOSE_FORBIDDEN


async def test_ward_socket_no_role_forbidden(ward, no_role_user):
    assert await rejection_code("/ws/wards/icu-1/", no_role_user) == CLOSE_FORBIDDEN


async def test_ward_socket_unknown_ward(ward, nurse):
    assert await rejection_code("/ws/wards/nowhere/", nurse) == CLOSE_NOT_FOUND


async def receive_until(socket, frame_type: str, timeout=5) -> list[dict]:
    """Receive frames up to and including the first of ``frame_type``."""
    frames = []
    while not frames or frames[-1]["type"] != frame_type:
        frames.append(await socket.receive_json_from(timeout=timeout))
    return frames


async def connected_socket(path: str, user) -> WebsocketCommunicator:
    socket = await communicator(path, user)
    connected, _ = await socket.connect()
    assert connected
    return socket


async def test_ward_socket_snapshot_then_live_frame(ward, nurse):
    socket = await connected_socket("/ws/wards/icu-1/", nurse)
    snapshot = await socket.receive_json_from(timeout=5)
    assert snapshot["type"] == "ward.snapshot"
    assert len(snapshot["beds"]) == 12
    assert "sent_at" in snapshot

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

    *earlier, frame = await receive_until(socket, "bed.updated")
    assert frame["bed"]["bed"] == "icu1-bed03"
    assert frame["bed"]["vitals"]["spo2"]["value"] == 91
    assert frame["bed"]["news2"]["scores"]["spo2"] == 3
    # SpO2 91 scores 3, a red score: the alert frame comes first and shares
    # the bed's sequence with the bed frame.
    assert [f["type"] for f in earlier] == ["alert.updated"]
    assert earlier[0]["sequence"] == frame["bed"]["sequence"] - 1
    assert frame["bed"]["alerts"][0]["id"] == earlier[0]["alert"]["id"]
    assert frame["bed"]["alerts"][0]["priority"] == "medium"
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


@sync_to_async
def raise_high_alert(bed_code: str, kind: str = "news2"):
    bed = Bed.objects.select_related("ward").get(code=bed_code)
    patient = Patient.objects.get(bed=bed, discharged_at__isnull=True)
    condition = alerts.Condition(kind, "high", "NEWS2 8 (high)")
    alert, _ = alerts.raise_alert(bed, patient, condition)
    return alert


@sync_to_async
def resolve(alert):
    return alerts.resolve(alert, note="condition cleared")


@sync_to_async
def audit_trail(alert) -> list[tuple]:
    return list(
        AlertAction.objects.filter(alert=alert).values_list("action", "user__username")
    )


PANEL_SOCKET = "/ws/wards/icu-1/beds/icu1-bed02/"


async def test_bed_socket_unknown_bed(ward, nurse):
    path = "/ws/wards/icu-1/beds/icu1-bed99/"
    assert await rejection_code(path, nurse) == CLOSE_NOT_FOUND


async def test_bed_socket_anonymous_closed(ward):
    assert await rejection_code(PANEL_SOCKET, None) == CLOSE_UNAUTHENTICATED


async def test_bed_socket_unassigned_nurse_forbidden(ward):
    from tests.conftest import _user

    other = await sync_to_async(_user)("nurse-3", "nurse")
    assert await rejection_code(PANEL_SOCKET, other) == CLOSE_FORBIDDEN


async def test_bed_socket_bed_of_other_ward(ward, nurse):
    @sync_to_async
    def other_ward_bed():
        other = Ward.objects.create(code="icu-2", name="ICU 2")
        Bed.objects.create(ward=other, code="icu2-bed01", label="Bed 1")

    await other_ward_bed()
    path = "/ws/wards/icu-1/beds/icu2-bed01/"
    assert await rejection_code(path, nurse) == CLOSE_NOT_FOUND


async def test_bed_socket_only_its_bed(ward, nurse):
    socket = await connected_socket(PANEL_SOCKET, nurse)
    snapshot = await socket.receive_json_from(timeout=5)
    assert snapshot["type"] == "bed.snapshot"
    assert snapshot["bed"]["bed"] == "icu1-bed02"
    assert snapshot["bed"]["alert_history"] == []

    now = timezone.now().isoformat()
    reading = {"device": "m", "timestamp": now, "parameter": "heart_rate",
               "value": 75, "unit": "/min"}  # fmt: skip
    await sync_to_async(ingest)([{**reading, "bed": "icu1-bed01"}], Source.DEVICE)
    await sync_to_async(ingest)([{**reading, "bed": "icu1-bed02"}], Source.DEVICE)

    frame = await socket.receive_json_from(timeout=5)
    assert frame["type"] == "bed.updated"
    assert frame["bed"]["bed"] == "icu1-bed02"
    assert await socket.receive_nothing(timeout=0.5)
    await socket.disconnect()


async def test_alert_acknowledged_reaches_other_page(ward, nurse, admin_user):
    alert = await raise_high_alert("icu1-bed02")
    ward_page = await connected_socket("/ws/wards/icu-1/", admin_user)
    panel = await connected_socket(PANEL_SOCKET, nurse)
    await ward_page.receive_json_from(timeout=5)
    panel_snapshot = await panel.receive_json_from(timeout=5)
    assert panel_snapshot["bed"]["alerts"][0]["state"] == "active"
    assert panel_snapshot["bed"]["alert_history"][0]["actions"][0]["action"] == "raise"

    await panel.send_json_to(
        {"type": "alert.acknowledge", "alert": alert.pk, "note": "at bedside"}
    )

    frames = await receive_until(panel, "action.done")
    assert frames[-1] == {
        "type": "action.done", "action": "alert.acknowledge", "alert": alert.pk
    }  # fmt: skip
    update = await ward_page.receive_json_from(timeout=5)
    assert update["type"] == "alert.updated"
    assert update["alert"]["id"] == alert.pk
    assert update["alert"]["state"] == "acknowledged"
    assert update["alert"]["acknowledged_by"] == "nurse-1"
    assert await audit_trail(alert) == [("raise", None), ("acknowledge", "nurse-1")]
    await ward_page.disconnect()
    await panel.disconnect()


async def test_alert_escalate_and_silence(ward, nurse):
    alert = await raise_high_alert("icu1-bed02")
    socket = await connected_socket("/ws/wards/icu-1/", nurse)
    await socket.receive_json_from(timeout=5)

    await socket.send_json_to({"type": "alert.escalate", "alert": alert.pk})
    escalated = (await receive_until(socket, "alert.updated"))[-1]
    await socket.send_json_to(
        {"type": "alert.silence", "alert": alert.pk, "minutes": 2}
    )
    silenced = (await receive_until(socket, "alert.updated"))[-1]

    assert escalated["alert"]["state"] == "escalated"
    assert silenced["alert"]["silenced"] is True
    assert silenced["sequence"] == escalated["sequence"] + 1
    actions = [action for action, _ in await audit_trail(alert)]
    assert actions == ["raise", "escalate", "silence"]
    await socket.disconnect()


@pytest.mark.parametrize(
    ("message", "field", "value"),
    [
        ({"type": "alert.silence", "minutes": 30}, "minutes", 30),
        ({"type": "alert.silence", "minutes": "2"}, "minutes", "2"),
        ({"type": "alert.acknowledge", "alert": "7"}, "alert", "7"),
        ({"type": "alert.acknowledge", "alert": True}, "alert", True),
        ({"type": "alert.acknowledge", "alert": 99999}, "alert", 99999),
        ({"type": "alert.acknowledge", "note": 5}, "note", 5),
        ({"type": "alert.acknowledge", "priority": "low"}, "priority", "low"),
        ({"type": "resync", "since": "yesterday"}, "since", "yesterday"),
        ({"type": "resync", "bed": "icu1-bed01"}, "bed", "icu1-bed01"),
    ],
)
async def test_alert_action_bad_message_named(ward, nurse, message, field, value):
    alert = await raise_high_alert("icu1-bed02")
    socket = await connected_socket("/ws/wards/icu-1/", nurse)
    await socket.receive_json_from(timeout=5)
    message.setdefault("alert", alert.pk)
    if message["type"] == "resync":
        del message["alert"]

    await socket.send_json_to(message)

    error = await socket.receive_json_from(timeout=5)
    assert error["type"] == "error"
    assert error["field"] == field
    assert error["value"] == value
    assert error["message"]
    assert [action for action, _ in await audit_trail(alert)] == ["raise"]
    await socket.disconnect()


async def test_panel_cannot_act_on_other_bed(ward, nurse):
    alert = await raise_high_alert("icu1-bed05")
    socket = await connected_socket(PANEL_SOCKET, nurse)
    await socket.receive_json_from(timeout=5)

    await socket.send_json_to({"type": "alert.acknowledge", "alert": alert.pk})

    error = await socket.receive_json_from(timeout=5)
    assert error["field"] == "alert"
    assert "icu1-bed02" in error["message"]
    await socket.disconnect()


async def test_reconnect_since_lists_alert_missed(ward, nurse):
    socket = await connected_socket("/ws/wards/icu-1/", nurse)
    first = await socket.receive_json_from(timeout=5)
    await socket.disconnect()

    alert = await raise_high_alert("icu1-bed04")
    await resolve(alert)

    since = first["sent_at"].replace("+00:00", "Z")
    path = f"/ws/wards/icu-1/?since={since}"
    again = await connected_socket(path, nurse)
    snapshot = await again.receive_json_from(timeout=5)
    assert snapshot["type"] == "ward.snapshot"
    missed = {entry["id"]: entry for entry in snapshot["alerts_since"]}
    assert missed[alert.pk]["state"] == "resolved"
    beds = {bed["bed"]: bed for bed in snapshot["beds"]}
    assert beds["icu1-bed04"]["alerts"] == []
    await again.disconnect()


async def test_reconnect_since_excludes_older_alert(ward, nurse):
    alert = await raise_high_alert("icu1-bed04")
    since = (timezone.now() + timedelta(minutes=2)).isoformat()
    socket = await connected_socket(PANEL_SOCKET.replace("02", "04"), nurse)
    await socket.receive_json_from(timeout=5)
    await socket.send_json_to({"type": "resync", "since": since})
    snapshot = await socket.receive_json_from(timeout=5)
    assert snapshot["alerts_since"] == []
    assert snapshot["bed"]["alerts"][0]["id"] == alert.pk
    await socket.disconnect()


async def test_reconnect_bad_since_still_snapshot(ward, nurse):
    socket = await connected_socket("/ws/wards/icu-1/?since=2026-12-04T10:00:00", nurse)
    error = await socket.receive_json_from(timeout=5)
    assert error["type"] == "error"
    assert error["field"] == "since"
    assert error["value"] == "2026-12-04T10:00:00"
    snapshot = await socket.receive_json_from(timeout=5)
    assert snapshot["type"] == "ward.snapshot"
    assert "alerts_since" not in snapshot
    await socket.disconnect()
