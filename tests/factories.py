"""factory_boy factories: believable rows for tests, built through the models."""

from __future__ import annotations

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from patients.models import Patient
from programs.models import AsamLevel, Bed, Program, Site


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"staff{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@clinic.test")
    is_staff = True
    password = factory.django.Password("correct-horse-battery-staple")


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    name = factory.Sequence(lambda n: f"Riverside Campus {n}")
    code = factory.Sequence(lambda n: f"site-{n}")
    time_zone = "America/New_York"
    address = "12 Mill Road"
    phone = "+14155550100"


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program

    site = factory.SubFactory(SiteFactory)
    name = factory.Sequence(lambda n: f"Residential {n}")
    asam_level = AsamLevel.RESIDENTIAL_HIGH
    capacity = 20
    time_zone = factory.LazyAttribute(lambda p: p.site.time_zone)

    class Params:
        iop = factory.Trait(name=factory.Sequence(lambda n: f"Evening IOP {n}"), asam_level=AsamLevel.IOP, capacity=12)


class BedFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Bed

    program = factory.SubFactory(ProgramFactory)
    label = factory.Sequence(lambda n: f"{100 + n // 2}-{'AB'[n % 2]}")


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    mrn = factory.Sequence(lambda n: f"MRN{n:06d}")
    legal_first_name = factory.Faker("first_name")
    legal_last_name = factory.Faker("last_name")
    date_of_birth = dt.date(1988, 5, 17)
    phone = factory.Sequence(lambda n: f"+1415555{n % 10000:04d}")
    email = factory.LazyAttribute(lambda p: f"{p.mrn.lower()}@example.org")
    time_zone = "America/New_York"
    messaging_consent_given_at = factory.LazyFunction(timezone.now)


# --- Security (issue 7): staff with a role at some sites ----------------------------------


def staff_member(*, role, sites=(), **fields):
    """A staff login in the role's group, working at ``sites``."""
    from django.contrib.auth.models import Group

    from clinic.access import ROLE_GROUPS
    from clinic.models import SiteMembership

    user = UserFactory(**fields)
    user.groups.add(Group.objects.get(name=ROLE_GROUPS[role]))
    for site in sites:
        SiteMembership.objects.create(user=user, site=site)
    return user
