"""WebSocket consumers for the live ward overview and the bedside panel.

Both join the ward's channel group. The bed consumer forwards only its own
bed's frames, because the alert service sends its frames to the ward group.

A page that reconnects adds ``?since=<ISO 8601>``, the ``sent_at`` of the
last frame it received. Its snapshot then lists every alert raised or acted
on since then, so an alert raised and resolved while the page was away is
still shown.
"""

import logging
from datetime import datetime, timedelta
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from medtwin.roles import ADMIN, NURSE, user_role
from twins import alerts as alert_service
from twins.alerts import ALERT_UPDATED, AlertError, AlertPermissionError
from twins.live import (
    BED_SNAPSHOT,
    BED_UPDATED,
    WARD_SNAPSHOT,
    alerts_changed_since,
    one_bed_snapshot,
    ward_snapshot,
)
from twins.models import Alert, Bed, Ward

logger = logging.getLogger(__name__)

# Close codes in the 4000-4999 range, which RFC 6455 leaves to applications;
# they mirror HTTP 401, 403 and 404 so the page can show why it was closed.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404

# Alert frames are sent after commit by whichever process made the change.
# A frame committed just before the page's last frame may still have been in
# flight when the connection dropped, and the margin covers such frames.
SINCE_MARGIN_SECONDS = 30
# A page away for longer gets the alerts of the last day; older ones are in
# the bed panel's alert history.
MAX_SINCE_AGE = timedelta(hours=24)

ALERT_ACTIONS = {
    "alert.acknowledge": ("alert", "note"),
    "alert.escalate": ("alert", "note"),
    "alert.silence": ("alert", "minutes", "note"),
}
CLIENT_MESSAGE_FIELDS = {"resync": ("since",), **ALERT_ACTIONS}


class MessageError(ValueError):
    def __init__(self, field: str, value, message: str):
        self.field = field
        self.value = value
        self.message = message
        super().__init__(message)


def parse_since(raw, now: datetime) -> datetime:
    """Parse a reconnecting page's ``since`` time; raise MessageError if invalid."""
    parsed = parse_datetime(raw) if isinstance(raw, str) else None
    if parsed is None or timezone.is_naive(parsed):
        raise MessageError(
            "since",
            raw,
            "invalid since: use an ISO 8601 time with a time zone, "
            "e.g. 2026-01-01T10:00:00Z",
        )
    return max(parsed - timedelta(seconds=SINCE_MARGIN_SECONDS), now - MAX_SINCE_AGE)


def _check_fields(content: dict, allowed: tuple[str, ...]) -> None:
    for field in content:
        if field != "type" and field not in allowed:
            raise MessageError(
                field,
                content[field],
                f"unknown field {field} for {content['type']}: use "
                + (", ".join(allowed) or "no other fields"),
            )


def _alert_id(raw) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise MessageError("alert", raw, "invalid alert: a positive alert id")
    return raw


@database_sync_to_async
def _load_ward(code: str, user) -> tuple[Ward | None, bool]:
    ward = Ward.objects.filter(code=code).first()
    if ward is None:
        return None, False
    role = user_role(user)
    allowed = role == ADMIN or (
        role == NURSE and ward.nurses.filter(pk=user.pk).exists()
    )
    return ward, allowed


@database_sync_to_async
def _load_bed(ward: Ward, code: str) -> Bed | None:
    return Bed.objects.filter(ward=ward, code=code).first()


@database_sync_to_async
def _act_on_alert(kind: str, alert_id: int, content: dict, user, ward, bed):
    alerts = Alert.objects.select_related("bed__ward").filter(bed__ward=ward)
    if bed is not None:
        alerts = alerts.filter(bed=bed)
    alert = alerts.filter(pk=alert_id).first()
    if alert is None:
        where = f"bed {bed.code}" if bed is not None else f"ward {ward.code}"
        raise MessageError(
            "alert", alert_id, f"unknown alert: none with this id on {where}"
        )
    note = content.get("note", "")
    if kind == "alert.acknowledge":
        return alert_service.acknowledge(alert, user, note)
    if kind == "alert.escalate":
        return alert_service.escalate(alert, user, note)
    return alert_service.silence(alert, user, content.get("minutes"), note)


class WardConsumer(AsyncJsonWebsocketConsumer):
    """Streams bed and alert frames of one ward to its nurses and to admins."""

    bed: Bed | None = None

    async def _reject(self, code: int) -> None:
        # Browsers see only a failed handshake if the socket is closed before
        # it is accepted, so accept first and close with the code: the page
        # then shows "log in again" instead of treating it as a network failure.
        await self.accept()
        await self.close(code=code)

    async def connect(self):
        user = self.scope.get("user")
        kwargs = self.scope["url_route"]["kwargs"]
        if user is None or not user.is_authenticated:
            await self._reject(CLOSE_UNAUTHENTICATED)
            return
        ward, allowed = await _load_ward(kwargs["ward"], user)
        if ward is None:
            await self._reject(CLOSE_NOT_FOUND)
            return
        if not allowed:
            logger.info(
                "user %s rejected from live view of ward %s", user.pk, ward.code
            )
            await self._reject(CLOSE_FORBIDDEN)
            return
        if "bed" in kwargs:
            self.bed = await _load_bed(ward, kwargs["bed"])
            if self.bed is None:
                await self._reject(CLOSE_NOT_FOUND)
                return
        self.ward = ward
        await self.channel_layer.group_add(ward.group_name, self.channel_name)
        await self.accept()
        logger.info(
            "user %s connected to ward %s bed %s",
            user.pk,
            ward.code,
            self.bed.code if self.bed else "(all)",
        )
        await self._send_snapshot(self._since_from_query())

    def _since_from_query(self):
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        if "since" not in query:
            return None
        return query["since"][-1]

    async def disconnect(self, code):
        ward = getattr(self, "ward", None)
        if ward is not None:
            await self.channel_layer.group_discard(ward.group_name, self.channel_name)
            logger.info("ward %s socket closed with code %s", ward.code, code)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        try:
            content = await self.decode_json(text_data or "")
        except ValueError:
            await self._send_error(
                MessageError(
                    "message",
                    text_data[:100] if text_data else None,
                    "invalid message: send a JSON object",
                )
            )
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        try:
            await self._dispatch(content)
        except MessageError as error:
            await self._send_error(error)
        except AlertError as error:
            await self._send_error(
                MessageError(error.field, error.value, error.message)
            )
        except AlertPermissionError as error:
            await self._send_error(
                MessageError("alert", content.get("alert"), str(error))
            )

    async def _dispatch(self, content):
        message_type = content.get("type") if isinstance(content, dict) else None
        if message_type not in CLIENT_MESSAGE_FIELDS:
            raise MessageError(
                "type",
                message_type,
                "unknown message type: use one of " + ", ".join(CLIENT_MESSAGE_FIELDS),
            )
        _check_fields(content, CLIENT_MESSAGE_FIELDS[message_type])
        if message_type == "resync":
            await self._send_snapshot(content.get("since"))
            return
        alert_id = _alert_id(content.get("alert"))
        user = self.scope["user"]
        alert = await _act_on_alert(
            message_type, alert_id, content, user, self.ward, self.bed
        )
        logger.info(
            "user %s: %s on alert %s over the socket", user.pk, message_type, alert.pk
        )
        # Every page, this one included, gets the new state from the alert
        # service's "alert.updated" frame; this reply only confirms the request.
        await self.send_json(
            {"type": "action.done", "action": message_type, "alert": alert.pk}
        )

    async def _send_error(self, error: MessageError):
        ward = getattr(self, "ward", None)
        logger.info(
            "message from user %s on ward %s rejected: %s=%r: %s",
            self.scope["user"].pk,
            ward.code if ward else None,
            error.field,
            error.value,
            error.message,
        )
        await self.send_json(
            {
                "type": "error",
                "field": error.field,
                "value": error.value,
                "message": error.message,
            }
        )

    def _wants(self, bed_code: str) -> bool:
        return self.bed is None or self.bed.code == bed_code

    async def beds_updated(self, event):
        for bed in event["beds"]:
            if self._wants(bed["bed"]):
                await self.send_json(
                    {"type": BED_UPDATED, "bed": bed, "sent_at": _now_iso()}
                )

    async def alert_updated(self, event):
        if self._wants(event["bed"]):
            await self.send_json(
                {
                    "type": ALERT_UPDATED,
                    "bed": event["bed"],
                    "sequence": event["sequence"],
                    "alert": event["alert"],
                    "sent_at": _now_iso(),
                }
            )

    async def _send_snapshot(self, raw_since=None):
        sent_at = _now_iso()
        since = None
        if raw_since is not None:
            try:
                since = parse_since(raw_since, timezone.now())
            except MessageError as error:
                # The snapshot still follows, because the page needs current
                # data even when its since value is invalid.
                await self._send_error(error)
        frame = await database_sync_to_async(self._snapshot)(since)
        frame["sent_at"] = sent_at
        await self.send_json(frame)

    def _snapshot(self, since: datetime | None) -> dict:
        if self.bed is not None:
            bed = one_bed_snapshot(self.bed)
            frame = {"type": BED_SNAPSHOT, "ward": self.ward.code, "bed": bed}
            beds = [self.bed]
        else:
            frame = {
                "type": WARD_SNAPSHOT,
                "ward": self.ward.code,
                "beds": ward_snapshot(self.ward),
            }
            beds = list(self.ward.beds.all())
        if since is not None:
            frame["since"] = since.isoformat()
            frame["alerts_since"] = alerts_changed_since(beds, since)
        return frame


def _now_iso() -> str:
    return timezone.now().isoformat()
