"""Machine-facing endpoints under /api/v1/, authenticated per device or user."""

from django.urls import path

from twins import api, views

urlpatterns = [
    path("observations", views.observations_api, name="observations"),
    path("beds/<slug:bed>/twin", api.bed_twin, name="bed-twin"),
    path("beds/<slug:bed>/ecg", api.bed_ecg, name="bed-ecg"),
]
