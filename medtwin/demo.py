"""The demo ICU: one ward of 12 beds, pseudonymous patients and three users.

Seeding is idempotent: a second run finds what the first created and changes
nothing, so ``make run`` can seed on every start.
"""

import logging
import secrets
from pathlib import Path

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from medtwin.roles import ADMIN, AUDITOR, NURSE, ROLES
from twins.models import Bed, Patient, TwinState, Ward

logger = logging.getLogger(__name__)

WARD_CODE = "icu-1"
BED_COUNT = 12
DEMO_USERS = {"nurse": NURSE, "admin": ADMIN, "auditor": AUDITOR}


def _pseudonym() -> str:
    return f"PT-{secrets.token_hex(3).upper()}"


def seed_ward() -> Ward:
    ward, _ = Ward.objects.get_or_create(
        code=WARD_CODE, defaults={"name": "Intensive care unit 1"}
    )
    for number in range(1, BED_COUNT + 1):
        bed, _ = Bed.objects.get_or_create(
            code=f"icu1-bed{number:02d}",
            defaults={"ward": ward, "label": f"Bed {number}"},
        )
        TwinState.objects.get_or_create(bed=bed)
        if not Patient.objects.filter(bed=bed, discharged_at__isnull=True).exists():
            Patient.objects.create(
                pseudonym=_pseudonym(), bed=bed, admitted_at=timezone.now()
            )
    return ward


def seed_users(ward: Ward, credentials_file: Path) -> dict[str, str]:
    """Create the demo users once, with random passwords kept in a 0600 file.

    Returns {user name: password}. Passwords are never hard-coded; the file
    lets a later ``make run`` print them again.
    """
    for role in ROLES:
        Group.objects.get_or_create(name=role)
    saved = {}
    if credentials_file.exists():
        for line in credentials_file.read_text().splitlines():
            name, _, password = line.partition(" ")
            saved[name] = password
    for name, role in DEMO_USERS.items():
        user = User.objects.filter(username=name).first()
        if user is not None and name in saved:
            continue
        password = secrets.token_urlsafe(12)
        if user is None:
            user = User.objects.create_user(username=name, password=password)
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
        user.groups.set([Group.objects.get(name=role)])
        saved[name] = password
        logger.info("created demo user %s with role %s", name, role)
    ward.nurses.add(User.objects.get(username="nurse"))
    credentials_file.parent.mkdir(parents=True, exist_ok=True)
    credentials_file.write_text(
        "".join(f"{name} {password}\n" for name, password in saved.items())
    )
    credentials_file.chmod(0o600)
    return saved


@transaction.atomic
def seed_demo(credentials_file: Path) -> tuple[Ward, dict[str, str]]:
    from scheduler.demo import seed_scheduler

    ward = seed_ward()
    seed_scheduler(ward)
    return ward, seed_users(ward, credentials_file)
