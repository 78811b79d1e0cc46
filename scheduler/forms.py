"""Forms of the admin tuning pages.

Every error names the field, the value entered and what is allowed, so an
admin can fix the entry without guessing.
"""

import math

from django import forms

from scheduler import core
from scheduler.models import ComputeNode, WeightProfile
from twins.models.alerts import THRESHOLD_BOUNDS

CUSTOM_PROFILE = "custom"
MAX_WEIGHT = 1000.0
REASON_MAX_LENGTH = 500


class ExplicitErrorsMixin:
    def error_lines(self) -> list[str]:
        """Return one line per error: field, value entered and the rule."""
        lines = []
        for name, errors in self.errors.items():
            if name == forms.forms.NON_FIELD_ERRORS:
                lines += list(errors)
                continue
            raw = self.data.get(self.add_prefix(name), "")
            for error in errors:
                lines.append(f"{name}={raw!r} is invalid: {error}")
        return lines


def _reason_field():
    return forms.CharField(
        max_length=REASON_MAX_LENGTH,
        strip=True,
        help_text="Why the change is made; kept in the change log.",
        error_messages={"required": "a reason for the change is required"},
    )


def _weight_field(name: str):
    return forms.FloatField(
        required=False,
        min_value=0,
        max_value=MAX_WEIGHT,
        help_text=f"Weight of the {name} term, 0 to {MAX_WEIGHT:g}.",
        error_messages={
            "invalid": f"expected a number from 0 to {MAX_WEIGHT:g}",
            "min_value": "expected a number >= 0",
            "max_value": f"expected a number <= {MAX_WEIGHT:g}",
        },
    )


class WeightsForm(ExplicitErrorsMixin, forms.Form):
    """A named profile, or custom latency, cost and security weights."""

    profile = forms.ChoiceField(choices=())
    latency = _weight_field("latency")
    cost = _weight_field("cost")
    security = _weight_field("security")
    reason = _reason_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = list(
            WeightProfile.objects.exclude(name=CUSTOM_PROFILE).values_list(
                "name", flat=True
            )
        )
        choices = [(name, name) for name in names] + [(CUSTOM_PROFILE, "custom")]
        self.fields["profile"].choices = choices
        allowed = ", ".join(name for name, _ in choices)
        self.fields["profile"].error_messages["invalid_choice"] = (
            f"expected one of {allowed}"
        )

    def clean(self):
        data = super().clean()
        if data.get("profile") != CUSTOM_PROFILE:
            return data
        for name in ("latency", "cost", "security"):
            if data.get(name) is None and name not in self.errors:
                self.add_error(name, "a weight is required for custom weights")
        values = [data.get(name) for name in ("latency", "cost", "security")]
        if all(value is not None and math.isfinite(value) for value in values):
            if sum(values) <= 0:
                raise forms.ValidationError(
                    "latency+cost+security=0 is invalid: at least one weight "
                    "must be > 0"
                )
        return data

    def weights(self) -> tuple[str, core.Weights]:
        """Return the chosen profile name and its weights (valid form only)."""
        name = self.cleaned_data["profile"]
        if name == CUSTOM_PROFILE:
            return name, core.Weights(
                latency=self.cleaned_data["latency"],
                cost=self.cleaned_data["cost"],
                security=self.cleaned_data["security"],
            )
        row = WeightProfile.objects.get(name=name)
        return name, core.Weights(row.latency, row.cost, row.security)


NODE_FIELDS = [
    "name", "tier", "ward", "bed", "mips", "memory_mb", "security_level",
    "cost_per_mips_hour", "cost_per_gb", "fixed_cost_per_hour", "latency_ms",
    "bandwidth_mbps", "is_up", "source",
]  # fmt: skip


class NodeForm(ExplicitErrorsMixin, forms.ModelForm):
    reason = _reason_field()

    class Meta:
        model = ComputeNode
        fields = NODE_FIELDS

    def clean(self):
        data = super().clean()
        tier = data.get("tier")
        if tier == "edge" and not data.get("bed"):
            self.add_error("bed", "an edge device needs the bed it is attached to")
        if tier in ("edge", "fog") and not data.get("ward"):
            self.add_error("ward", f"a {tier} node needs the ward it serves")
        if tier == "cloud" and (data.get("ward") or data.get("bed")):
            self.add_error("ward", "a cloud region serves every ward: leave it empty")
        bed, ward = data.get("bed"), data.get("ward")
        if bed is not None and ward is not None and bed.ward_id != ward.pk:
            self.add_error("bed", f"bed {bed.code} is not in ward {ward.code}")
        return data


class AlertThresholdsForm(ExplicitErrorsMixin, forms.Form):
    """Escalation and silence limits for each alert priority."""

    reason = _reason_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for priority, bounds in THRESHOLD_BOUNDS.items():
            for name, (low, high) in bounds.items():
                unit = "s" if name.endswith("seconds") else "min"
                self.fields[f"{priority}_{name}"] = forms.IntegerField(
                    min_value=low,
                    max_value=high,
                    help_text=f"{low} to {high} {unit}",
                    error_messages={
                        "required": f"a whole number from {low} to {high} is required",
                        "invalid": f"expected a whole number from {low} to {high}",
                        "min_value": f"expected {low} to {high} {unit}",
                        "max_value": f"expected {low} to {high} {unit}",
                    },
                )

    def thresholds(self) -> dict[str, dict[str, int]]:
        return {
            priority: {name: self.cleaned_data[f"{priority}_{name}"] for name in bounds}
            for priority, bounds in THRESHOLD_BOUNDS.items()
        }
