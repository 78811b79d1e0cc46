import logging
import threading
import time

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from psycopg.errors import QueryCanceled

from medtwin.roles import ADMIN, AUDITOR, NURSE, role_required, user_role
from twins.alerts import thresholds
from twins.bodies import BodyError, read_json_body
from twins.history import WINDOWS_SECONDS, HistoryError, Window, bed_history
from twins.ingest import IngestError, ingest
from twins.live import one_bed_snapshot, ward_snapshot
from twins.models import DeviceToken, Ward
from twins.vitals import Source

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 2_000_000
HISTORY_RETRY_AFTER_SECONDS = 2


def visible_wards(user):
    if user_role(user) == ADMIN:
        return Ward.objects.all()
    return user.wards.all()


@role_required(NURSE, ADMIN, AUDITOR)
def home(request):
    if user_role(request.user) == AUDITOR:
        return redirect("scheduler:runs")
    wards = list(visible_wards(request.user))
    if len(wards) == 1:
        return redirect("twins:ward", code=wards[0].code)
    return render(request, "twins/home.html", {"wards": wards})


def _live_config(ward: Ward, **extra) -> dict:
    return {
        "wardCode": ward.code,
        "signalLostSeconds": settings.SIGNAL_LOST_SECONDS,
        "timeZone": settings.TIME_ZONE,
        "maxSilenceMinutes": {
            str(priority): limits["max_silence_minutes"]
            for priority, limits in thresholds().items()
        },
        **extra,
    }


@role_required(NURSE, ADMIN)
def ward_overview(request, code):
    # A ward the user may not see is a 404, like one that does not exist, so
    # ward codes cannot be probed.
    ward = get_object_or_404(visible_wards(request.user), code=code)
    return render(
        request,
        "twins/ward.html",
        {
            "ward": ward,
            "beds_json": ward_snapshot(ward),
            "config": _live_config(ward),
        },
    )


def _visible_bed(user, ward_code: str, bed_code: str):
    ward = get_object_or_404(visible_wards(user), code=ward_code)
    bed = ward.beds.filter(code=bed_code).first()
    if bed is None:
        raise Http404(f"no bed {bed_code} on ward {ward_code}")
    return ward, bed


@role_required(NURSE, ADMIN)
def bed_panel(request, code, bed):
    ward, bed = _visible_bed(request.user, code, bed)
    return render(
        request,
        "twins/panel.html",
        {
            "ward": ward,
            "bed": bed,
            "bed_json": one_bed_snapshot(bed),
            "config": _live_config(
                ward, bedCode=bed.code, windows=list(WINDOWS_SECONDS)
            ),
        },
    )


class ComputeBudget:
    """A token bucket of compute seconds, shared by one process's histories.

    History runs in the web process, and its Python work holds the GIL that
    ingestion and the consumers need. The bucket holds up to ``burst``
    seconds and refills at ``share`` seconds per second. A nurse switching
    windows spends from the burst and is not held up. Clients fetching
    history back to back drain it, and then history gets at most ``share``
    of the process's time while they wait.
    """

    def __init__(self, share: float, burst: float):
        self.share = share
        self.burst = burst
        self.seconds = burst
        self.updated = time.monotonic()
        self.changed = threading.Condition()

    def _refill(self) -> None:
        now = time.monotonic()
        self.seconds = min(self.burst, self.seconds + (now - self.updated) * self.share)
        self.updated = now

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for budget; return whether there is some."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                self._refill()
                if self.seconds > 0:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.changed.wait(min(remaining, -self.seconds / self.share))

    def spend(self, seconds: float) -> None:
        with self.changed:
            self._refill()
            self.seconds -= seconds


_history_limits: dict[tuple, object] = {}
_history_limits_lock = threading.Lock()


def history_slots() -> threading.BoundedSemaphore:
    """Return this process's limit on history computations running at once."""
    size = settings.HISTORY_CONCURRENCY
    with _history_limits_lock:
        return _history_limits.setdefault(
            ("slots", size), threading.BoundedSemaphore(size)
        )


def history_budget() -> ComputeBudget:
    """Return this process's compute budget for history."""
    share = settings.HISTORY_SHARE_PERCENT / 100
    burst = settings.HISTORY_BURST_SECONDS
    with _history_limits_lock:
        key = ("budget", share, burst)
        return _history_limits.setdefault(key, ComputeBudget(share, burst))


@role_required(NURSE, ADMIN)
def bed_history_json(request, code, bed):
    """Return the bed's downsampled trends and NEWS2 over ``?window=``.

    History waits for one of a few slots per process and for compute budget
    (``ComputeBudget``), and runs under a statement timeout. A burst of
    history requests, or one slow query, then cannot take the CPU and the
    database from ingestion and live frames.
    """
    ward, bed = _visible_bed(request.user, code, bed)
    try:
        window = _history_window(request.GET)
    except HistoryError as error:
        logger.info("history of bed %s rejected: %s", bed.code, error)
        return JsonResponse({"errors": [error.as_dict()]}, status=400)
    deadline = time.monotonic() + settings.HISTORY_WAIT_SECONDS
    slots, budget = history_slots(), history_budget()
    if not slots.acquire(timeout=settings.HISTORY_WAIT_SECONDS):
        logger.warning(
            "history of bed %s over %s rejected: all %d slots busy for %d s",
            bed.code, window.name, settings.HISTORY_CONCURRENCY,
            settings.HISTORY_WAIT_SECONDS,
        )  # fmt: skip
        return _history_busy(window, "every history slot of this server is busy")
    started = None
    try:
        if not budget.wait(max(0.0, deadline - time.monotonic())):
            logger.warning(
                "history of bed %s over %s rejected: compute budget spent for %d s",
                bed.code, window.name, settings.HISTORY_WAIT_SECONDS,
            )  # fmt: skip
            return _history_busy(window, "the server's history budget is spent")
        started = time.monotonic()
        # Encoded here, so the time spent includes the JSON encoding.
        return JsonResponse(_history_within_timeout(bed, window))
    except OperationalError as error:
        if not isinstance(error.__cause__, QueryCanceled):
            raise
        logger.warning(
            "history of bed %s over %s cancelled after %d s",
            bed.code, window.name, settings.HISTORY_TIMEOUT_SECONDS,
        )  # fmt: skip
        limit = settings.HISTORY_TIMEOUT_SECONDS
        return _history_busy(window, f"the query ran past {limit} s and was cancelled")
    finally:
        if started is not None:
            budget.spend(time.monotonic() - started)
        slots.release()


def _history_within_timeout(bed, window: Window) -> dict:
    with transaction.atomic():
        with connection.cursor() as cursor:
            # SET takes no bind parameters; set_config does, and its third
            # argument ends the limit with this transaction.
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true)",
                [f"{round(settings.HISTORY_TIMEOUT_SECONDS * 1000)}ms"],
            )
        return bed_history(bed, window)


def _history_busy(window: Window, reason: str) -> JsonResponse:
    response = _error(
        503, "window", window.name, f"history not available now: {reason}; retry"
    )
    response["Retry-After"] = str(HISTORY_RETRY_AFTER_SECONDS)
    return response


def _history_window(query) -> Window:
    for name in query:
        if name != "window":
            raise HistoryError(name, query[name], "unknown query parameter: use window")
    if len(query.getlist("window")) > 1:
        raise HistoryError(
            "window",
            query.getlist("window"),
            "window given more than once: use one window",
        )
    return Window.parse(query.get("window", "1h"))


def _error(status: int, field: str, value, message: str) -> JsonResponse:
    return JsonResponse(
        {"errors": [{"field": field, "value": value, "message": message}]},
        status=status,
    )


@csrf_exempt
@require_POST
def observations_api(request):
    """Accept a JSON batch of readings from a device holding an API token."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme != "Bearer" or not token:
        return _error(
            401, "Authorization", None, "missing device token: send 'Bearer <token>'"
        )
    device = DeviceToken.authenticate(token.strip())
    if device is None:
        return _error(401, "Authorization", None, "invalid or revoked device token")
    try:
        payload = read_json_body(request, MAX_BODY_BYTES)
    except BodyError as error:
        return _error(error.status, "body", error.value, error.message)
    batch = payload.get("readings") if isinstance(payload, dict) else None
    if batch is None:
        return _error(400, "readings", None, "missing field readings: a list")
    try:
        result = ingest(batch, Source.DEVICE)
    except IngestError as error:
        logger.info("batch from device token %s rejected: %s", device.pk, error)
        return JsonResponse(
            {"errors": [item.as_dict() for item in error.errors]}, status=400
        )
    return JsonResponse(result.__dict__, status=201)
