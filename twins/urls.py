from django.urls import path

from twins import views

app_name = "twins"
urlpatterns = [
    path("wards/<slug:code>/", views.ward_overview, name="ward"),
]
