from django.urls import path

from scheduler import views

app_name = "scheduler"
urlpatterns = [
    path("runs/", views.run_list, name="runs"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/new/", views.request_run, name="request_run"),
]
