"""How API callers are recognised: a JWT whose user is loaded with their role and patient record in one query.

A module of its own, apart from the token views in ``clinic.api.auth``: DRF imports the
authentication classes while ``rest_framework.views`` is still loading, so this one must not import it.
"""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from clinic import access


class CallerJWTAuthentication(JWTAuthentication):
    """simplejwt's JWTAuthentication, loading the caller's role and patient record with the user: one query.

    The profile of single requests (issue 17) found the user lookup, then the role's group names and
    the patient id (``access.role_of``, for the permission check and again for the audit record) as
    separate queries on every request. Here they come with the user's own row: the group names as an
    array, the patient through the one-to-one join. Nothing is carried in the token itself, so a role
    removed or an account deactivated counts at the very next request, as before. The checks after the
    lookup are simplejwt's own (``JWTAuthentication.get_user``), repeated because its lookup is one line
    inside them.
    """

    def get_user(self, validated_token: Token):
        try:
            user_id = validated_token[jwt_settings.USER_ID_CLAIM]
        except KeyError:
            raise InvalidToken("Token contained no recognizable user identification") from None
        group_names = ArraySubquery(Group.objects.filter(user=OuterRef("pk")).values("name"))
        users = self.user_model.objects.select_related("patient").annotate(**{access.GROUP_NAMES_ATTR: group_names})
        try:
            user = users.get(**{jwt_settings.USER_ID_FIELD: user_id})
        except self.user_model.DoesNotExist:
            raise AuthenticationFailed("User not found", code="user_not_found") from None
        if jwt_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        if jwt_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            jwt_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed("The user's password has been changed.", code="password_changed")
        return user
