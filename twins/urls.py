from django.urls import path

from twins import views

app_name = "twins"
urlpatterns = [
    path("wards/<slug:code>/", views.ward_overview, name="ward"),
    path("wards/<slug:code>/beds/<slug:bed>/", views.bed_panel, name="bed"),
    path(
        "wards/<slug:code>/beds/<slug:bed>/history",
        views.bed_history_json,
        name="bed-history",
    ),
]
