"""Every page needs a login and the right role."""

import html

import pytest

PAGES = {
    # url: roles allowed (others get 403, anonymous users the login page)
    "/": {"nurse", "admin", "auditor"},
    "/wards/icu-1/": {"nurse", "admin"},
    "/scheduler/runs/": {"admin", "auditor"},
}


@pytest.fixture
def users(nurse, admin_user, auditor, no_role_user):
    return {
        "nurse": nurse,
        "admin": admin_user,
        "auditor": auditor,
        "none": no_role_user,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_page_anonymous_sent_to_login(client, ward, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith("/login/")


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
@pytest.mark.parametrize("role", ["nurse", "admin", "auditor", "none"])
def test_page_role_check(client, ward, users, url, role):
    client.force_login(users[role])
    response = client.get(url)
    if role in PAGES[url]:
        assert response.status_code in (200, 302)
    else:
        assert response.status_code == 403


@pytest.mark.django_db
def test_ward_page_hidden_from_unassigned_nurse(client, ward):
    from tests.conftest import _user

    client.force_login(_user("nurse-2", "nurse"))
    assert client.get("/wards/icu-1/").status_code == 404


@pytest.mark.django_db
def test_ward_page_lists_every_bed(client, ward, nurse):
    client.force_login(nurse)
    response = client.get("/wards/icu-1/")
    assert response.status_code == 200
    for number in range(1, 13):
        assert f"icu1-bed{number:02d}" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["nurse", "auditor", "none"])
def test_plan_request_admin_only(client, ward, users, role):
    from scheduler.models import PlanningRun

    client.force_login(users[role])
    response = client.post(
        "/scheduler/runs/new/", {"ward": "icu-1", "solver": "greedy"}
    )
    assert response.status_code == 403
    assert PlanningRun.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"ward": "icu-1", "solver": "magic"}, "solver 'magic' is invalid"),
        ({"ward": "nowhere", "solver": "greedy"}, "ward 'nowhere' not found"),
    ],
)
def test_plan_request_invalid_form(client, ward, admin_user, form, message):
    from scheduler.models import PlanningRun

    client.force_login(admin_user)
    response = client.post("/scheduler/runs/new/", form, follow=True)
    assert message in html.unescape(response.content.decode())
    assert PlanningRun.objects.count() == 0
