from django.urls import path

from twins.consumers import WardConsumer

websocket_urlpatterns = [
    path("ws/wards/<slug:ward>/", WardConsumer.as_asgi()),
    path("ws/wards/<slug:ward>/beds/<slug:bed>/", WardConsumer.as_asgi()),
]
