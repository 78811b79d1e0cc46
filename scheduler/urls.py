from django.urls import path

from scheduler.views import audit, heartbeat, runs, tuning

app_name = "scheduler"
urlpatterns = [
    path("runs/", runs.run_list, name="runs"),
    path("runs/<int:run_id>/", runs.run_detail, name="run"),
    path("runs/new/", runs.request_run, name="request_run"),
    path("runs/<int:run_id>/compare/", audit.compare, name="compare"),
    path(
        "runs/<int:run_id>/placements/<path:task_id>",
        audit.placement_detail,
        name="placement",
    ),
    path("placements/", audit.placement_log, name="placements"),
    path("charts/", audit.chart_page, name="charts"),
    path(
        "alert-thresholds/",
        tuning.alert_thresholds,
        name="alert_thresholds",
    ),
    path("weights/", tuning.weights, name="weights"),
    path("nodes/", tuning.node_list, name="nodes"),
    path("nodes/new/", tuning.node_edit, name="node_new"),
    path("nodes/<slug:name>/", tuning.node_edit, name="node"),
    path("changes/", tuning.change_log, name="changes"),
    path("api/v1/heartbeat", heartbeat.heartbeat, name="heartbeat"),
]
