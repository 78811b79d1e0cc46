"""Pages for nurse-entered observations and the SpO2 scale decision."""

from django.urls import path

from twins import entry_views

app_name = "entry"
urlpatterns = [
    path(
        "beds/<slug:bed>/observations/",
        entry_views.nurse_observations,
        name="observations",
    ),
    path("beds/<slug:bed>/spo2-scale/", entry_views.spo2_scale, name="spo2-scale"),
]
