import numpy as np
from django.db import models
from django.utils import timezone


class EcgChunk(models.Model):
    """A stretch of ECG on the twin's sample grid, stored as int16 counts.

    ``data`` contains ``samples`` rows of ``len(leads)`` little-endian int16
    values, row after row; a count is ``microvolts_per_count`` microvolts.
    ``start_at`` lies on the grid of 1/``fs`` s from the Unix epoch, so chunks
    from devices with different clocks and rates line up sample for sample.
    """

    bed = models.ForeignKey("twins.Bed", on_delete=models.PROTECT)
    device = models.CharField(max_length=100)
    start_at = models.DateTimeField()
    fs = models.PositiveIntegerField()
    microvolts_per_count = models.PositiveIntegerField()
    leads = models.JSONField()
    samples = models.PositiveIntegerField()
    data = models.BinaryField()
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["device", "start_at"], name="one_ecg_chunk_per_device_start"
            )
        ]
        indexes = [models.Index(fields=["bed", "-start_at"])]

    def __str__(self):
        return f"ECG of {self.bed_id} from {self.start_at}, {self.samples} samples"

    def millivolts(self) -> np.ndarray:
        """Return the chunk as floats in mV, shape (samples, leads)."""
        counts = np.frombuffer(bytes(self.data), dtype="<i2")
        counts = counts.reshape(self.samples, len(self.leads))
        return counts.astype(float) * self.microvolts_per_count / 1000.0
