from twins.models.alerts import (
    Alert,
    AlertAction,
    AlertKind,
    AlertState,
    AlertThreshold,
    Priority,
)
from twins.models.clinical import Spo2ScaleDecision
from twins.models.devices import DeviceToken
from twins.models.vitals import Observation, ObservationRollup, TwinState
from twins.models.wards import Bed, Patient, Ward
from twins.models.waveforms import EcgChunk

__all__ = [
    "Alert",
    "AlertAction",
    "AlertThreshold",
    "AlertKind",
    "AlertState",
    "Bed",
    "DeviceToken",
    "EcgChunk",
    "Observation",
    "ObservationRollup",
    "Patient",
    "Priority",
    "Spo2ScaleDecision",
    "TwinState",
    "Ward",
]
