"""Fixtures for the twin tests: readings, a ward-group listener, a second nurse."""

import asyncio
import json
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from tests.conftest import _user
from twins.ingest import ingest
from twins.vitals import Source

BED = "icu1-bed01"


def reading(parameter: str, value, at=None, bed: str = BED, device="monitor-bed01"):
    return {
        "bed": bed,
        "device": device,
        "timestamp": (at or timezone.now().replace(microsecond=0)).isoformat(),
        "parameter": parameter,
        "value": value,
        "unit": {
            "heart_rate": "/min",
            "pulse_rate": "/min",
            "resp_rate": "/min",
            "spo2": "%",
            "temperature": "Cel",
            "systolic_bp": "mm[Hg]",
            "diastolic_bp": "mm[Hg]",
            "consciousness": "{ACVPU}",
            "supplemental_oxygen": "{yes/no}",
        }[parameter],
    }


@pytest.fixture
def send_vitals(django_capture_on_commit_callbacks):
    """Ingest readings for one bed at one time and run the on-commit callbacks."""

    def send(at=None, bed: str = BED, **values):
        at = at or timezone.now().replace(microsecond=0)
        batch = [reading(name, value, at, bed) for name, value in values.items()]
        with django_capture_on_commit_callbacks(execute=True):
            return ingest(batch, Source.DEVICE)

    return send


class GroupListener:
    """A channel in a ward's group on the real Redis layer."""

    def __init__(self, group: str):
        self.layer = get_channel_layer()
        self.group = group
        # A plain channel name, not one from new_channel(): process-local
        # channels buffer on one event loop, and each drain() runs its own.
        self.channel = f"test-listener.{uuid.uuid4().hex}"
        async_to_sync(self.layer.group_add)(group, self.channel)

    async def _drain(self, wait_seconds: float) -> list[dict]:
        frames = []
        while True:
            try:
                frame = await asyncio.wait_for(
                    self.layer.receive(self.channel), wait_seconds
                )
            except TimeoutError:
                return frames
            # Pages get frames as JSON, so each must survive a round trip.
            frames.append(json.loads(json.dumps(frame)))

    def drain(self, wait_seconds: float = 0.3) -> list[dict]:
        return async_to_sync(self._drain)(wait_seconds)

    def close(self):
        async_to_sync(self.layer.group_discard)(self.group, self.channel)


@pytest.fixture
def ward_listener(ward):
    listener = GroupListener(ward.group_name)
    yield listener
    listener.close()


@pytest.fixture
def other_nurse(db):
    return _user("nurse-2", "nurse")
