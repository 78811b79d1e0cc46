from django.contrib.auth import views as auth_views
from django.urls import include, path

from twins import fhir_views
from twins import views as twin_views

urlpatterns = [
    path("", twin_views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", include("twins.api_urls")),
    path("fhir/Observation", fhir_views.observation_create, name="fhir-observation"),
    path("fhir", fhir_views.transaction, name="fhir-transaction"),
    path("", include("twins.urls")),
    path("", include("twins.entry_urls")),
    path("scheduler/", include("scheduler.urls")),
]
