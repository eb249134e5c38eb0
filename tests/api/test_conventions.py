"""The API's shared conventions: one error body, JWT auth, throttling, a valid OpenAPI schema."""

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple"


def test_malformed_json_is_a_400_with_the_error_body(as_patient):
    response = as_patient.patch(
        reverse("api:me"), data="{not json", content_type="application/json", HTTP_IF_MATCH='"x"'
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"
    assert "JSON" in response.json()["error"]["message"]


def test_anonymous_gets_401_with_the_error_body(api):
    response = api.get(reverse("api:me"))
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "not_authenticated", "message": "Authentication credentials were not provided."}
    }


def test_token_refresh_rotates_and_logout_blacklists(api, patient_user):
    tokens = api.post(reverse("api:token"), {"username": "alex.patient", "password": PASSWORD}).json()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert api.get(reverse("api:me")).status_code == 200

    rotated = api.post(reverse("api:token-refresh"), {"refresh": tokens["refresh"]}).json()
    assert rotated["refresh"] != tokens["refresh"]
    # The old refresh token was blacklisted by the rotation.
    reused = api.post(reverse("api:token-refresh"), {"refresh": tokens["refresh"]})
    assert reused.status_code == 401 and reused.json()["error"]["code"] == "token_invalid"

    assert api.post(reverse("api:logout"), {"refresh": rotated["refresh"]}).status_code == 204
    assert api.post(reverse("api:token-refresh"), {"refresh": rotated["refresh"]}).status_code == 401


def test_wrong_password_is_401_and_repeated_attempts_are_throttled(api, patient_user):
    statuses = [
        api.post(reverse("api:token"), {"username": "alex.patient", "password": "wrong"}).status_code for _ in range(11)
    ]
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429


def test_the_schema_validates_without_warnings():
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_swagger_ui_is_served_without_a_cdn(client):
    page = client.get(reverse("api-docs"))
    assert page.status_code == 200
    assert b"cdn.jsdelivr" not in page.content and b"swagger-ui" in page.content


def test_failed_token_requests_count_towards_the_account_lockout(api, patient_user, other_patient_user, settings):
    """The token endpoint goes through the same lockout as the admin login (django-axes)."""

    def token(username, password):
        return api.post(reverse("api:token"), {"username": username, "password": password})

    # Control: one failure short of the limit, the right password still gets a token.
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert token("sam.patient", "wrong").status_code == 401
    assert "access" in token("sam.patient", PASSWORD).json()
    cache.clear()  # the per-client throttle (tested above) is a separate mechanism from the lockout

    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert token("alex.patient", "wrong").status_code == 401
    locked = token("alex.patient", PASSWORD)

    assert locked.status_code == 401 and locked.json()["error"]["code"] == "authentication_failed"
