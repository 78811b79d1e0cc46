"""Django settings for MedTwin.

Every setting that differs between machines comes from the environment
through the typed helpers below. A bad value stops start-up with
``ImproperlyConfigured``, naming the variable and what is allowed.

With no ``DATABASE_URL`` or ``REDIS_URL`` the embedded servers in
``medtwin.embedded`` start, so a fresh clone runs with no configuration.
"""

import logging
import os
import secrets
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ImproperlyConfigured

from medtwin import embedded

logger = logging.getLogger("medtwin.settings")

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name)
    if value is None:
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is invalid: use one of 1, 0, true, false, yes, no, on, off"
    )


def env_int(name: str, default: int, minimum: int, maximum: int) -> int:
    value = env_str(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or not minimum <= number <= maximum:
        raise ImproperlyConfigured(
            f"{name}={value!r} is invalid: use a whole number "
            f"from {minimum} to {maximum}"
        )
    return number


def env_choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env_str(name, default)
    if value not in allowed:
        raise ImproperlyConfigured(
            f"{name}={value!r} is invalid: use one of {', '.join(allowed)}"
        )
    return value


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


VAR_DIR = Path(env_str("MEDTWIN_VAR_DIR", str(BASE_DIR / "var")))
DEPLOYMENT = env_choice(
    "MEDTWIN_DEPLOYMENT", "development", ("development", "production")
)
PRODUCTION = DEPLOYMENT == "production"
DEBUG = env_bool("DJANGO_DEBUG", False)


def _secret_key() -> str:
    key = env_str("DJANGO_SECRET_KEY")
    if key is not None:
        return key
    if PRODUCTION:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is missing: production needs a secret key of "
            "at least 50 random characters"
        )
    # A development key is made once per checkout, kept out of git in var/.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1]"
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "DJANGO_ALLOWED_HOSTS is missing: production needs the host names it "
        "serves, separated by commas"
    )
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "medtwin",
    "twins",
    "scheduler",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "medtwin.middleware.RejectNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "medtwin.urls"
ASGI_APPLICATION = "medtwin.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "medtwin.roles.role_context",
            ],
        },
    },
]

# Database: PostgreSQL only, because ingestion relies on its ON CONFLICT and
# row locks.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL is not None:
    import dj_database_url

    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            f"DATABASE_URL scheme gives {DATABASES['default']['ENGINE']}: "
            "use a postgres:// or postgresql:// URL"
        )
    DATABASE_SOURCE = "DATABASE_URL"
else:
    DATABASES = {"default": embedded.start_postgres(VAR_DIR / "pgdata")}
    DATABASE_SOURCE = f"embedded PostgreSQL in {VAR_DIR / 'pgdata'}"
# Under ASGI each request runs its synchronous view in a thread of its own,
# so without a pool the number of PostgreSQL sessions grows with the number
# of requests in flight. The pool caps it, and requests wait for a session.
# Each session is checked when taken from the pool, because a PostgreSQL
# restart leaves every pooled session dead.
DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
    "min_size": 1,
    "max_size": env_int("MEDTWIN_DB_POOL_MAX_SIZE", 16, 2, 500),
    "timeout": 30,
}
# With a pool, Django's health checks run the pool's check on each checkout.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("TEST", {})["NAME"] = env_str(
    "MEDTWIN_TEST_DATABASE_NAME", "test_medtwin"
)

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL is not None:
    REDIS_SOURCE = "REDIS_URL"
else:
    _redis_port = env_int("MEDTWIN_EMBEDDED_REDIS_PORT", 6389, 1024, 65535)
    try:
        REDIS_URL = embedded.start_redis(VAR_DIR / "redis", _redis_port)
    except RuntimeError as error:
        raise ImproperlyConfigured(str(error)) from None
    REDIS_SOURCE = f"embedded Redis on 127.0.0.1:{_redis_port}"

CHANNEL_LAYERS = {
    "default": {
        # channels_redis's layer, except that a page closing while it pops for
        # the process no longer loses the frame (medtwin/channel_layer.py).
        "BACKEND": "medtwin.channel_layer.ShieldedRedisChannelLayer",
        "CONFIG": {
            # redis-py 8 reads with a 5 s socket timeout by default, the same
            # as the layer's blocking pop, so an idle consumer could time out
            # and drop its socket. No read timeout, as in redis-py 7, and TCP
            # keepalive to notice a Redis that vanished without closing.
            "hosts": [
                {"address": REDIS_URL, "socket_timeout": None, "socket_keepalive": True}
            ],
            "prefix": env_str("MEDTWIN_CHANNEL_PREFIX", "medtwin"),
            # A page that lags a few seconds behind a 12-bed ward has hundreds
            # of frames waiting, and 1,000 rides out such stalls without drops.
            # Messages still expire after 60 s, which bounds memory.
            "capacity": env_int("MEDTWIN_CHANNEL_CAPACITY", 1000, 1, 100_000),
            "expiry": 60,
        },
    }
}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_DEFAULT_QUEUE = env_str("MEDTWIN_CELERY_QUEUE", "medtwin")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A planning run is redelivered after this long if its worker vanished; it
# must exceed the longest solver time limit plus writing the placements.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_TIME_LIMIT = 300
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

REPLAN_INTERVAL_SECONDS = env_int("MEDTWIN_REPLAN_INTERVAL_SECONDS", 60, 5, 86_400)
SCHEDULED_SOLVERS = env_list("MEDTWIN_SCHEDULED_SOLVERS", "exact,greedy")
if not SCHEDULED_SOLVERS or not set(SCHEDULED_SOLVERS) <= {"exact", "greedy", "hybrid"}:
    raise ImproperlyConfigured(
        f"MEDTWIN_SCHEDULED_SOLVERS={','.join(SCHEDULED_SOLVERS)!r} is invalid: "
        "use exact, greedy or hybrid, separated by commas"
    )
# Compute demand of the twin tasks in placement: "measured" times this
# product's own task code (twins/task_costs.json), "published" uses the
# iFogSim and EdgeCloudSim figures cited in scheduler/core/scenario.py.
TASK_DEMANDS = env_choice("MEDTWIN_TASK_DEMANDS", "measured", ("measured", "published"))
EXACT_TIME_LIMIT_SECONDS = env_int("MEDTWIN_EXACT_TIME_LIMIT_SECONDS", 20, 1, 200)
SIGNAL_LOST_SECONDS = env_int("MEDTWIN_SIGNAL_LOST_SECONDS", 30, 5, 3600)
# Trend history is the heaviest read. Each web process computes at most this
# many at once, so a burst of history requests leaves CPU and database
# sessions to ingestion and live frames. Further requests wait, then get a
# 503 with Retry-After. A query running past the timeout gets the same 503.
HISTORY_CONCURRENCY = env_int("MEDTWIN_HISTORY_CONCURRENCY", 1, 1, 64)
HISTORY_WAIT_SECONDS = env_int("MEDTWIN_HISTORY_WAIT_SECONDS", 10, 0, 300)
HISTORY_TIMEOUT_SECONDS = env_int("MEDTWIN_HISTORY_TIMEOUT_SECONDS", 10, 1, 300)
# Each process gives history a budget of compute time: up to the burst at
# once, refilled at this percentage of wall time (twins.views.ComputeBudget).
HISTORY_SHARE_PERCENT = env_int("MEDTWIN_HISTORY_SHARE_PERCENT", 25, 1, 100)
HISTORY_BURST_SECONDS = env_int("MEDTWIN_HISTORY_BURST_SECONDS", 2, 1, 60)
# An alert not acknowledged within this many seconds escalates on its own.
ALERT_ESCALATE_AFTER_SECONDS = {
    "high": env_int("MEDTWIN_ESCALATE_HIGH_SECONDS", 60, 10, 3600),
    "medium": env_int("MEDTWIN_ESCALATE_MEDIUM_SECONDS", 180, 10, 7200),
    "low": env_int("MEDTWIN_ESCALATE_LOW_SECONDS", 600, 10, 86_400),
}
NODE_HEARTBEAT_TIMEOUT_SECONDS = env_int(
    "MEDTWIN_NODE_HEARTBEAT_TIMEOUT_SECONDS", 30, 5, 3600
)

CELERY_BEAT_SCHEDULE = {
    "replan-every-ward": {
        "task": "scheduler.tasks.schedule_replans",
        "schedule": float(REPLAN_INTERVAL_SECONDS),
    },
    "resend-stale-runs": {
        "task": "scheduler.tasks.resend_stale_runs",
        "schedule": 30.0,
    },
    "check-node-heartbeats": {
        "task": "scheduler.tasks.check_heartbeats",
        "schedule": 5.0,
    },
    "analyse-twins": {"task": "twins.tasks.analyse_twins", "schedule": 10.0},
    "escalate-alerts": {"task": "twins.tasks.escalate_alerts", "schedule": 5.0},
}

_VALIDATORS = "django.contrib.auth.password_validation."
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": _VALIDATORS + "UserAttributeSimilarityValidator"},
    {"NAME": _VALIDATORS + "MinimumLengthValidator"},
    {"NAME": _VALIDATORS + "CommonPasswordValidator"},
    {"NAME": _VALIDATORS + "NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("MEDTWIN_TIME_ZONE", "UTC")
try:
    ZoneInfo(TIME_ZONE)
except (ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(
        f"MEDTWIN_TIME_ZONE={TIME_ZONE!r} is invalid: use an IANA zone name "
        "such as Europe/London"
    ) from None
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "medtwin.staticfinders.PlotlyFinder",
]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31_536_000, 0, 63_072_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOG_LEVEL = env_choice(
    "MEDTWIN_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "medtwin": {"level": LOG_LEVEL},
        "twins": {"level": LOG_LEVEL},
        "scheduler": {"level": LOG_LEVEL},
        "django.request": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
        # channels_redis logs at INFO each group message it drops because a
        # process's channel is full.
        "channels_redis": {"level": "INFO"},
    },
}
