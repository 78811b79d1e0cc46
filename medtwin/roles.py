"""User roles and the checks every view and WebSocket route applies.

A role is a Django group. A user has one role. Superusers count as admins, so
``createsuperuser`` gives a working account.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

NURSE = "nurse"
ADMIN = "admin"
AUDITOR = "auditor"
ROLES = (NURSE, ADMIN, AUDITOR)


def user_role(user) -> str | None:
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return ADMIN
    names = {group.name for group in user.groups.all()}
    for role in ROLES:
        if role in names:
            return role
    return None


def role_required(*roles: str):
    """Require a logged-in user whose role is one of ``roles``.

    Anonymous users are sent to the login page; logged-in users with another
    role get 403, so a nurse cannot reach admin pages by guessing URLs.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if user_role(request.user) not in roles:
                raise PermissionDenied(f"this page needs the role {' or '.join(roles)}")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def role_context(request):
    user = getattr(request, "user", None)
    return {"role": user_role(user) if user is not None else None}
