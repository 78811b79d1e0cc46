from twins.models.devices import DeviceToken
from twins.models.vitals import Observation, TwinState
from twins.models.wards import Bed, Patient, Ward

__all__ = ["Bed", "DeviceToken", "Observation", "Patient", "TwinState", "Ward"]
