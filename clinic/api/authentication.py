"""How API callers are recognised: a JWT whose user is loaded with their role and patient record in one query.

A module of its own, apart from the token views in ``clinic.api.auth``: DRF imports the
authentication classes while ``rest_framework.views`` is still loading, so this one must not import it.
"""

from __future__ import annotations

import functools

from django.db import connection
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from clinic import access


@functools.cache
def _caller_sql(user_model) -> tuple[str, int]:
    """The one statement that loads a caller: their row, their groups' names, their patient record (if any).

    Written out once per process from the models' own metadata. The ORM's version of it
    (select_related('patient') and an ArraySubquery) cost more to compile on each request than the
    query took to run (issue 17's profile); this keeps the same columns without the compiling.
    """
    from patients.models import Patient

    user_table, patient_table = user_model._meta.db_table, Patient._meta.db_table
    user_columns = [f'u."{f.column}"' for f in user_model._meta.concrete_fields]
    patient_columns = [f'p."{f.column}"' for f in Patient._meta.concrete_fields]
    groups = (
        'ARRAY(SELECT g."name" FROM "auth_group" g JOIN "auth_user_groups" ug ON ug."group_id" = g."id" '
        'WHERE ug."user_id" = u."id")'
    )
    user_key = user_model._meta.get_field(jwt_settings.USER_ID_FIELD).column
    sql = (
        f"SELECT {', '.join(user_columns)}, {groups}, {', '.join(patient_columns)} "
        f'FROM "{user_table}" u LEFT JOIN "{patient_table}" p ON p."user_id" = u."id" '
        f'WHERE u."{user_key}" = %s'
    )
    return sql, len(user_columns)


def load_caller(user_model, user_id):
    """The user with ``user_id`` (None if there is none), their role's groups and patient record already loaded.

    ``access.role_of`` reads the group names from the user; ``user.patient`` is the loaded record, or
    raises RelatedObjectDoesNotExist without a query when the login has no patient record.
    """
    from patients.models import Patient

    sql, width = _caller_sql(user_model)
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    user_fields = [f.attname for f in user_model._meta.concrete_fields]
    user = user_model.from_db(connection.alias, user_fields, row[:width])
    setattr(user, access.GROUP_NAMES_ATTR, row[width] or [])
    patient_values = row[width + 1 :]
    patient = None
    if patient_values[0] is not None:  # the patient's id: NULL when the login has no patient record
        patient = Patient.from_db(connection.alias, [f.attname for f in Patient._meta.concrete_fields], patient_values)
        Patient.user.field.set_cached_value(patient, user)
    user_model.patient.related.set_cached_value(user, patient)
    return user


class CallerJWTAuthentication(JWTAuthentication):
    """simplejwt's JWTAuthentication, loading the caller's role and patient record with the user: one query.

    The profile of single requests (issue 17) found the user lookup, then the role's group names and
    the patient id (``access.role_of``, for the permission check and again for the audit record) as
    separate queries on every request. Here they come with the user's own row (``load_caller``).
    Nothing is carried in the token itself, so a role removed or an account deactivated counts at the
    very next request, as before. The checks after the lookup are simplejwt's own
    (``JWTAuthentication.get_user``), repeated because its lookup is one line inside them.
    """

    def get_user(self, validated_token: Token):
        try:
            user_id = validated_token[jwt_settings.USER_ID_CLAIM]
        except KeyError:
            raise InvalidToken("Token contained no recognizable user identification") from None
        user = load_caller(self.user_model, user_id)
        if user is None:
            raise AuthenticationFailed("User not found", code="user_not_found")
        if jwt_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        if jwt_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            jwt_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed("The user's password has been changed.", code="password_changed")
        return user
