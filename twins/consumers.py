"""WebSocket consumer for the live ward overview."""

import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from medtwin.roles import ADMIN, NURSE, user_role
from twins.live import BED_UPDATED, WARD_SNAPSHOT, ward_snapshot
from twins.models import Ward

logger = logging.getLogger(__name__)

# Close codes in the 4000-4999 range, which RFC 6455 leaves to applications;
# they mirror HTTP 401, 403 and 404 so the page can show why it was closed.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404

CLIENT_MESSAGE_TYPES = ("resync",)


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


class WardConsumer(AsyncJsonWebsocketConsumer):
    """Streams bed updates for one ward to nurses assigned to it and admins."""

    async def connect(self):
        user = self.scope.get("user")
        code = self.scope["url_route"]["kwargs"]["ward"]
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        ward, allowed = await _load_ward(code, user)
        if ward is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        if not allowed:
            logger.info("user %s refused live view of ward %s", user.pk, code)
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.ward = ward
        await self.channel_layer.group_add(ward.group_name, self.channel_name)
        await self.accept()
        logger.info("user %s connected to ward %s", user.pk, code)
        await self._send_snapshot()

    async def disconnect(self, code):
        ward = getattr(self, "ward", None)
        if ward is not None:
            await self.channel_layer.group_discard(ward.group_name, self.channel_name)
            logger.info("ward %s socket closed with code %s", ward.code, code)

    async def receive_json(self, content, **kwargs):
        message_type = content.get("type") if isinstance(content, dict) else None
        if message_type == "resync":
            await self._send_snapshot()
            return
        await self.send_json(
            {
                "type": "error",
                "field": "type",
                "value": message_type,
                "message": "unknown message type: use one of "
                + ", ".join(CLIENT_MESSAGE_TYPES),
            }
        )

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        try:
            content = await self.decode_json(text_data or "")
        except ValueError:
            await self.send_json(
                {
                    "type": "error",
                    "field": "message",
                    "value": (text_data or "")[:100] if text_data else None,
                    "message": "invalid message: send a JSON object",
                }
            )
            return
        await self.receive_json(content)

    async def bed_updated(self, event):
        await self.send_json({"type": BED_UPDATED, "bed": event["bed"]})

    async def _send_snapshot(self):
        beds = await database_sync_to_async(ward_snapshot)(self.ward)
        await self.send_json(
            {"type": WARD_SNAPSHOT, "ward": self.ward.code, "beds": beds}
        )
