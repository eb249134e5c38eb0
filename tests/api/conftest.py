from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import PatientFactory, UserFactory


@pytest.fixture(autouse=True)
def _fresh_throttles():
    # Throttle counters live in the (real) Redis cache; each test starts from zero.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def patient_user(patient):
    patient.user = UserFactory(username="alex.patient", is_staff=False)
    patient.save(update_fields=["user"])
    return patient.user


@pytest.fixture
def other_patient_user(other_patient):
    other_patient.user = UserFactory(username="sam.patient", is_staff=False)
    other_patient.save(update_fields=["user"])
    return other_patient.user


@pytest.fixture
def as_patient(api, patient_user):
    api.force_authenticate(patient_user)
    return api


@pytest.fixture
def unlinked_patient(db):
    return PatientFactory()
