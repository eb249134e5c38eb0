import datetime as dt

import pytest

from clinic.errors import Conflict, InvalidInput
from patients import services
from patients.models import Patient

pytestmark = pytest.mark.django_db


def _register(**overrides):
    data = {
        "mrn": "A-100",
        "legal_first_name": "Alex",
        "legal_last_name": "Rivera",
        "date_of_birth": dt.date(1990, 1, 2),
    }
    return services.register_patient(**{**data, **overrides})


def test_a_phone_is_stored_in_e164():
    patient = _register(phone="(415) 555-0132", phone_region="US")
    assert patient.phone == "+14155550132"


@pytest.mark.parametrize("phone", ["555-0132", "+1 000 000", "not a phone"])
def test_an_invalid_phone_is_refused(phone):
    with pytest.raises(InvalidInput) as error:
        _register(phone=phone)
    assert error.value.field == "phone"
    assert not Patient.objects.exists()


def test_an_invalid_time_zone_is_refused():
    with pytest.raises(InvalidInput, match="not an IANA time zone") as error:
        _register(time_zone="Mars/Olympus_Mons")
    assert error.value.field == "time_zone"


def test_a_duplicate_mrn_is_a_clear_conflict():
    _register()
    with pytest.raises(Conflict, match="MRN A-100 already exists"):
        _register(legal_first_name="Other")
    assert Patient.objects.count() == 1


def test_update_validates_and_saves_only_what_changed(patient):
    with pytest.raises(InvalidInput):
        services.update_patient(patient=patient, phone="12")
    services.update_patient(patient=patient, preferred_name="Lex")
    patient.refresh_from_db()
    assert patient.preferred_name == "Lex"


def test_fields_outside_the_editable_set_are_refused(patient):
    with pytest.raises(InvalidInput, match="cannot be changed here: mrn"):
        services.update_patient(patient=patient, mrn="X")


def test_adolescent_is_under_18_on_the_day(patient):
    patient.date_of_birth = dt.date(2008, 6, 1)
    assert patient.is_adolescent_on(dt.date(2026, 5, 31))
    assert not patient.is_adolescent_on(dt.date(2026, 6, 1))


def test_consent_revocation_takes_effect_and_keeps_when_it_was_given(patient):
    given_at = patient.messaging_consent_given_at
    patient = services.revoke_messaging_consent(patient=patient)
    assert not patient.has_messaging_consent
    assert patient.messaging_consent_given_at == given_at and patient.messaging_consent_revoked_at is not None
    assert services.give_messaging_consent(patient=patient).has_messaging_consent
