"""Settings for the test suite: the real servers, with names of their own.

Queue, channel prefix and test database carry the process id. A test run
then never takes work from, or sends frames to, a ``make run`` on the same
Redis, and two test runs on one machine do not drop each other's database. Child
processes (the Celery worker, the ASGI server) inherit the names.
"""

import os

os.environ.setdefault("MEDTWIN_CELERY_QUEUE", f"medtwin-test-{os.getpid()}")
os.environ.setdefault("MEDTWIN_CHANNEL_PREFIX", f"medtwin-test-{os.getpid()}")
os.environ.setdefault("MEDTWIN_TEST_DATABASE_NAME", f"test_medtwin_{os.getpid()}")
# The planning tests need capacity that binds, which the published task
# demands give; the measured ones are too small for capacity to bind.
os.environ.setdefault("MEDTWIN_TASK_DEMANDS", "published")
# The full-channel test overfills a channel, which is quicker at Channels'
# own default capacity.
os.environ.setdefault("MEDTWIN_CHANNEL_CAPACITY", "100")

from medtwin.settings import *  # noqa: E402,F403
from medtwin.settings import DATABASES  # noqa: E402

# A Celery worker started by a test runs in another process and must use the
# test database that pytest-django created, not the development one.
if os.environ.get("MEDTWIN_USE_TEST_DATABASE") == "1":
    DATABASES["default"]["NAME"] = DATABASES["default"]["TEST"]["NAME"]

# Tests do not run collectstatic: WhiteNoise serves the source files through
# the finders, and STATIC_ROOT exists only to silence its start-up warning.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
WHITENOISE_USE_FINDERS = True

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
