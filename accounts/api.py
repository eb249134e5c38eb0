"""The patient app's account endpoints, for callers not signed in: activate an invitation, reset a password.

Throttled per client address and per code; a refused code gets one answer whatever the reason.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import codes, services
from clinic import audit
from clinic.api.strict import StrictInputMixin
from clinic.models import AuditAction, AuditCategory


class PerClientThrottle(SimpleRateThrottle):
    """Per client address, as the audit trail sees it (trusted proxies only; a forged X-Forwarded-For does not help)."""

    scope = "app_code"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": audit.client_ip(request) or "unknown"}


class PerCodeThrottle(SimpleRateThrottle):
    """Per code (its looked-up half, hashed): a storm of guesses at one code slows down from every address."""

    scope = "app_code_per_code"

    def get_cache_key(self, request, view):
        code = request.data.get("code") if hasattr(request.data, "get") else None
        if not isinstance(code, str) or not code.strip():
            return None
        return self.cache_format % {"scope": self.scope, "ident": codes.lookup_hash(code)}


class PerLoginThrottle(SimpleRateThrottle):
    """Reset requests per login named (hashed), whether or not it exists: nobody can flood a patient's phone."""

    scope = "app_reset_per_login"

    def get_cache_key(self, request, view):
        login = request.data.get("login") if hasattr(request.data, "get") else None
        if not isinstance(login, str) or not login.strip():
            return None
        return self.cache_format % {"scope": self.scope, "ident": codes.login_key(login)}


class TokensSerializer(serializers.Serializer):
    refresh = serializers.CharField()
    access = serializers.CharField()


class ActivateSerializer(StrictInputMixin, serializers.Serializer):
    code = serializers.CharField(max_length=32, help_text="The code from the invitation, e.g. 4KX9-72QM.")
    username = serializers.CharField(max_length=150, required=False, allow_blank=True)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    password = serializers.CharField(max_length=128, style={"input_type": "password"}, trim_whitespace=False)


class PasswordResetSerializer(StrictInputMixin, serializers.Serializer):
    login = serializers.CharField(max_length=254, help_text="Your username or e-mail address.")


class PasswordResetConfirmSerializer(StrictInputMixin, serializers.Serializer):
    code = serializers.CharField(max_length=32)
    password = serializers.CharField(max_length=128, style={"input_type": "password"}, trim_whitespace=False)


class _CodeView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [PerClientThrottle, PerCodeThrottle]

    def _refused(self, request) -> None:
        audit.record(request, action=AuditAction.LOGIN_FAILED, category=AuditCategory.DEMOGRAPHICS, detail="app code")


class ActivateView(_CodeView):
    """Redeem an invitation: choose a username (or use your e-mail) and a password; you are signed in."""

    @extend_schema(request=ActivateSerializer, responses={201: TokensSerializer})
    def post(self, request):
        serializer = ActivateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            user = services.activate(**serializer.validated_data)
        except services.InvalidCode:
            self._refused(request)
            raise
        audit.record(
            request,
            action=AuditAction.LOGIN,
            category=AuditCategory.DEMOGRAPHICS,
            patients=[user.patient],
            user=user,
            detail="app access activated",
        )
        refresh = RefreshToken.for_user(user)
        return Response({"refresh": str(refresh), "access": str(refresh.access_token)}, status=status.HTTP_201_CREATED)


class PasswordResetView(_CodeView):
    """Ask for a code to choose a new password. The answer is the same whether or not the account exists."""

    throttle_classes = [PerClientThrottle, PerLoginThrottle]

    @extend_schema(
        request=PasswordResetSerializer,
        responses={202: inline_serializer("PasswordResetAccepted", {"detail": serializers.CharField()})},
    )
    def post(self, request):
        serializer = PasswordResetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = services.request_password_reset(login=serializer.validated_data["login"])
        if issued is not None:
            via = ", ".join(issued.sent_via) or "nowhere (no channel may be used)"
            audit.record(
                request,
                action=AuditAction.CREATE,
                category=AuditCategory.DEMOGRAPHICS,
                patients=[issued.record.patient],
                obj=issued.record,
                detail=f"password reset code sent via {via}",
            )
        message = _("If an account matches, a code is on its way by text or e-mail.")
        return Response({"detail": message}, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmView(_CodeView):
    """Choose a new password with the code. Every device signed in to the account is signed out."""

    @extend_schema(request=PasswordResetConfirmSerializer, responses={204: None})
    def post(self, request):
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            user = services.confirm_password_reset(**serializer.validated_data)
        except services.InvalidCode:
            self._refused(request)
            raise
        audit.record(
            request,
            action=AuditAction.CHANGE,
            category=AuditCategory.DEMOGRAPHICS,
            patients=[user.patient],
            user=user,
            detail="password reset; refresh tokens revoked",
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
