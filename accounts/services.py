"""Writes for the patient app's accounts: invite, activate, reset a password, deactivate.

Each write is one transaction; a code goes out through the reminder channels after
the transaction that made it commits (slow I/O never holds a row lock). Codes exist
in memory only between ``new_code()`` and the message; the database keeps hashes.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Case, DateTimeField, F, Q, Value, When
from django.utils.translation import gettext as _
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import codes
from accounts.content import CODE_VALID_DAYS, render_code
from accounts.models import MAX_FAILURES, AccessCode
from clinic import clock
from clinic.db import constraint_name
from clinic.errors import Conflict, DomainError, InvalidInput
from patients.models import Channel, Patient
from reminders import rules
from reminders.channels import OutgoingMessage, SendError, get_channel
from reminders.models import PushDevice, SmsOptOut

logger = logging.getLogger(__name__)

CODE_LIFETIME = dt.timedelta(days=CODE_VALID_DAYS)
Purpose = AccessCode.Purpose


class InvalidCode(DomainError):
    """Unknown, used, expired, revoked or dead: an anonymous caller is not told which."""

    code = "code_invalid"


def _invalid_code() -> InvalidCode:
    return InvalidCode(_("This code is not valid. Ask for a new one."), field="code")


@dataclass(frozen=True)
class IssuedCode:
    record: AccessCode
    # The code itself, for the one answer that may show it (staff hand it over in person) and the message.
    code: str
    sent_via: tuple[str, ...]

    @property
    def handed_over_in_person(self) -> bool:
        return not self.sent_via


# --- issuing and sending ---------------------------------------------------------------------------


def _issue(*, patient: Patient, purpose: str, created_by: AbstractBaseUser | None) -> tuple[AccessCode, str]:
    """Revoke the open code of this purpose and make a new one, under the patient's row lock."""
    now = clock.now()
    code = codes.new_code()
    try:
        with transaction.atomic():
            Patient.objects.select_for_update().filter(pk=patient.pk).first()
            AccessCode.objects.filter(
                patient=patient, purpose=purpose, used_at__isnull=True, revoked_at__isnull=True
            ).update(revoked_at=now, updated_at=now)
            record = AccessCode.objects.create(
                patient=patient,
                purpose=purpose,
                lookup=codes.lookup_hash(code),
                code_hash=codes.code_hash(code),
                expires_at=now + CODE_LIFETIME,
                created_by=created_by,
            )
    except IntegrityError as error:
        if constraint_name(error) == "accesscode_one_open_per_patient":
            raise Conflict(_("Another code for this patient was made at the same moment; try again.")) from None
        raise
    return record, code


def _deliver(*, record: AccessCode, code: str, patient: Patient) -> tuple[str, ...]:
    """Send through every channel the reminder rules allow (consent, channel, confidential, STOP)."""
    opted_out = bool(patient.phone) and SmsOptOut.objects.filter(phone=patient.phone).exists()
    sent = []
    for channel, address in ((Channel.SMS, patient.phone), (Channel.EMAIL, patient.email)):
        decision = rules.channel_rules(channel=channel, patient=patient, opted_out=opted_out, has_devices=False)
        if decision.action != "send":
            continue
        message = render_code(channel=channel, purpose=record.purpose, code=code, patient=patient)
        try:
            get_channel(channel).send(
                OutgoingMessage(
                    channel=channel,
                    to=(address,),
                    body=message.body,
                    subject=message.subject,
                    idempotency_key=f"access-code:{record.public_id}:{channel}",
                )
            )
        except SendError as error:
            # The class only: a provider's message may quote what we sent.
            logger.warning("access code %s: %s not delivered (%s)", record.public_id, channel, type(error).__name__)
            continue
        sent.append(str(channel))
    if sent:
        AccessCode.objects.filter(pk=record.pk).update(sent_via=",".join(sent), updated_at=clock.now())
        record.sent_via = ",".join(sent)
    return tuple(sent)


def invite_patient(*, patient: Patient, invited_by: AbstractBaseUser) -> IssuedCode:
    """A new single-use invitation (the old one revoked), sent by text and e-mail where the rules allow.

    When no channel may be used (no consent, confidential communication, no address),
    ``sent_via`` is empty and staff hand the code over in person: it is shown once.
    """
    record, code = _issue(patient=patient, purpose=Purpose.INVITATION, created_by=invited_by)
    return IssuedCode(record=record, code=code, sent_via=_deliver(record=record, code=code, patient=patient))


def request_password_reset(*, login: str) -> IssuedCode | None:
    """A reset code for the patient app account named by username or e-mail; None when there is none.

    The API answers the same either way, so the caller cannot learn whether an account exists.
    """
    login = (login or "").strip()
    if not login:
        return None
    user = (
        get_user_model()
        .objects.filter(Q(username__iexact=login) | Q(email__iexact=login), is_active=True, patient__isnull=False)
        .select_related("patient")
        .order_by("pk")
        .first()
    )
    if user is None:
        return None
    patient = user.patient
    record, code = _issue(patient=patient, purpose=Purpose.PASSWORD_RESET, created_by=None)
    return IssuedCode(record=record, code=code, sent_via=_deliver(record=record, code=code, patient=patient))


# --- redeeming -------------------------------------------------------------------------------------


def _redeem(*, code: str, purpose: str) -> AccessCode:
    """The open code matching ``code``, locked, inside the caller's transaction; else InvalidCode.

    A wrong code whose first half matches an open code counts as a failure against it
    (committed even though the caller's transaction is refused); at MAX_FAILURES it dies.
    """
    if not codes.looks_like_a_code(code):
        raise _invalid_code()
    now = clock.now()
    candidates = list(
        AccessCode.objects.select_for_update()
        .select_related("patient")
        .filter(lookup=codes.lookup_hash(code), purpose=purpose, used_at__isnull=True, revoked_at__isnull=True)
    )
    digest = codes.code_hash(code)
    match = next((c for c in candidates if c.code_hash == digest), None)
    if match is not None and match.expires_at > now:
        return match
    if match is None and candidates:
        raise _CodeMiss([c.pk for c in candidates])
    raise _invalid_code()


class _CodeMiss(Exception):
    def __init__(self, ids: list[int]) -> None:
        self.ids = ids


def _count_failure(ids: list[int]) -> None:
    now = clock.now()
    with transaction.atomic():
        # The fifth failure kills the code (the CHECK refuses five failures on an open code).
        AccessCode.objects.filter(pk__in=ids, revoked_at__isnull=True, used_at__isnull=True).update(
            failures=F("failures") + 1,
            revoked_at=Case(
                When(failures__gte=MAX_FAILURES - 1, then=Value(now)), default=None, output_field=DateTimeField()
            ),
            updated_at=now,
        )


def _with_code(func):
    """Run ``func`` in one transaction; a near-miss is counted in its own, then refused the same way."""

    @functools.wraps(func)
    def wrapper(**kwargs):
        try:
            with transaction.atomic():
                return func(**kwargs)
        except _CodeMiss as miss:
            _count_failure(miss.ids)
            raise _invalid_code() from None

    return wrapper


def _check_password(password: str, user: AbstractBaseUser) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as error:
        raise InvalidInput(" ".join(error.messages), code="password_rejected", field="password") from None


def _revoke_refresh_tokens(user: AbstractBaseUser) -> int:
    outstanding = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    return len(BlacklistedToken.objects.bulk_create([BlacklistedToken(token=t) for t in outstanding]))


@_with_code
def activate(*, code: str, password: str, username: str = "", email: str = "") -> AbstractBaseUser:
    """Redeem an invitation: the patient's login (new, or the old one restored) with this name and password."""
    # The code first: every bad code gets the same answer, whatever else the request holds.
    invitation = _redeem(code=code, purpose=Purpose.INVITATION)
    username, email = (username or "").strip(), (email or "").strip().lower()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise InvalidInput(_("Enter a valid e-mail address."), field="email") from None
    username = username or email
    if not username:
        raise InvalidInput(_("Choose a username or give your e-mail address."), field="username")
    patient = Patient.objects.select_for_update().get(pk=invitation.patient_id)
    User = get_user_model()
    user = User.objects.filter(pk=patient.user_id).first() if patient.user_id else None
    if user is not None and (user.is_staff or user.is_superuser):
        raise InvalidInput(_("This code is not valid. Ask for a new one."), code="code_invalid", field="code")
    if User.objects.filter(username__iexact=username).exclude(pk=getattr(user, "pk", None)).exists():
        raise Conflict(_("That username is taken; choose another."), code="username_taken", field="username")
    user = user or User(is_staff=False)
    user.username, user.email, user.is_active = username, email or user.email, True
    user.first_name = patient.preferred_name or patient.legal_first_name
    user.last_name = patient.legal_last_name
    _check_password(password, user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise Conflict(_("That username is taken; choose another."), code="username_taken", field="username") from None
    if patient.user_id != user.pk:
        patient.user = user
        patient.save(update_fields=["user", "updated_at"])
    now = clock.now()
    AccessCode.objects.filter(pk=invitation.pk).update(used_at=now, updated_at=now)
    # Any reset code from before is for a password that no longer matters.
    AccessCode.objects.filter(
        patient=patient, purpose=Purpose.PASSWORD_RESET, used_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now, updated_at=now)
    return user


@_with_code
def confirm_password_reset(*, code: str, password: str) -> AbstractBaseUser:
    """Set a new password with a reset code; every refresh token of the account is revoked."""
    reset = _redeem(code=code, purpose=Purpose.PASSWORD_RESET)
    user = get_user_model().objects.select_for_update().filter(pk=reset.patient.user_id, is_active=True).first()
    if user is None:
        raise _invalid_code()
    _check_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    now = clock.now()
    AccessCode.objects.filter(pk=reset.pk).update(used_at=now, updated_at=now)
    _revoke_refresh_tokens(user)
    return user


# --- ending access ---------------------------------------------------------------------------------


def deactivate_app_access(*, patient: Patient, deactivated_by: AbstractBaseUser) -> Patient:
    """A lost phone: the login is switched off (checked on every request), refresh tokens revoked,
    push devices removed, open codes revoked. A new invitation restores access."""
    with transaction.atomic():
        patient = Patient.objects.select_for_update().get(pk=patient.pk)
        user = get_user_model().objects.select_for_update().filter(pk=patient.user_id).first()
        if user is None:
            raise Conflict(_("This patient has no app login."), code="no_app_login")
        if user.is_staff or user.is_superuser:
            raise Conflict(_("This login belongs to staff; change it in the accounts admin."), code="staff_login")
        now = clock.now()
        user.is_active = False
        user.save(update_fields=["is_active"])
        _revoke_refresh_tokens(user)
        PushDevice.objects.filter(patient=patient).delete()
        AccessCode.objects.filter(patient=patient, used_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=now, updated_at=now
        )
        patient.save(update_fields=["updated_at"])
        return patient
