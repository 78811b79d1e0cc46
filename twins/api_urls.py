"""Machine-facing endpoints under /api/v1/, authenticated per device or user."""

from django.urls import path

from twins import views

urlpatterns = [
    path("observations", views.observations_api, name="observations"),
]
