"""Database connections cut from the server side, as a PostgreSQL restart
does: the worker and the WebSocket consumers open new ones and carry on."""

import psycopg
import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import close_old_connections, connection

from scheduler.models.runs import RunStatus, Trigger
from scheduler.tasks import enqueue_run
from tests.reliability.test_live_delivery import next_frame_of_type, open_ward_socket
from tests.test_end_to_end import wait_for_run

pytestmark = pytest.mark.django_db(transaction=True)


def cut_every_connection() -> int:
    """Terminate every session on the test database from outside Django.

    Returns how many sessions were cut. The test's own connection goes too,
    so it is reopened the way Django does at each request boundary.
    """
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as admin:
        cut = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]
    close_old_connections()
    return cut


def test_worker_plans_after_connections_cut(demo_icu, celery_worker_process):
    first = wait_for_run(enqueue_run(demo_icu, "greedy", Trigger.MANUAL).pk)
    assert first.status == RunStatus.DONE, first.error

    assert cut_every_connection() >= 1
    second = wait_for_run(enqueue_run(demo_icu, "greedy", Trigger.MANUAL).pk)
    assert second.status == RunStatus.DONE, second.error
    assert second.placements.count() == first.placements.count()


def test_socket_resyncs_after_connections_cut(ward, nurse):
    async def resync_after_cut():
        page = await open_ward_socket(ward, nurse)
        await database_sync_to_async(cut_every_connection)()
        await page.send_json_to({"type": "resync"})
        snapshot = await next_frame_of_type(page, "ward.snapshot")
        await page.disconnect()
        return snapshot

    snapshot = async_to_sync(resync_after_cut)()
    assert len(snapshot["beds"]) == ward.beds.count()
