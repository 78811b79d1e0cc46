"""Helpers shared by tests and by the scripts that drive a running server."""

import json
import socket
import urllib.request

POST_TIMEOUT_SECONDS = 30


def free_port() -> int:
    """Return a loopback TCP port that is free at the time of the call.

    Another process can still take the port before the caller binds it.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post_readings(base_url: str, token: str, readings: list[dict]) -> dict:
    """Post ``readings`` to the ingestion API as a device and return the reply.

    Raises RuntimeError unless the server returns 201. ``urlopen`` raises
    HTTPError for 4xx and 5xx statuses before that check.
    """
    request = urllib.request.Request(
        f"{base_url}/api/v1/observations",
        data=json.dumps({"readings": readings}).encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=POST_TIMEOUT_SECONDS) as response:
        if response.status != 201:
            raise RuntimeError(
                f"POST {request.full_url} returned HTTP {response.status}, expected 201"
            )
        return json.loads(response.read())


def log_in(page, base_url: str, username: str, password: str) -> None:
    """Log ``page`` in through the login form as ``username``."""
    page.goto(f"{base_url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
