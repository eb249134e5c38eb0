"""Token endpoints: obtain, refresh (rotating, with blacklist) and logout. Throttled per client."""

from __future__ import annotations

import logging

from drf_spectacular.utils import extend_schema
from redis.exceptions import RedisError
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from clinic.api.errors import SESSION_EXPIRED
from clinic.api.strict import StrictInputMixin
from clinic.errors import InvalidInput

logger = logging.getLogger(__name__)


class SignInUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Signing in is briefly unavailable; try again in a few seconds."
    default_code = "sign_in_unavailable"
    wait = 5  # seconds, sent as Retry-After by DRF's exception handler


class SignInThrottle(ScopedRateThrottle):
    """The per-client limit on sign-in attempts. Its counters live in the shared cache (Redis).

    Without the counters, letting every attempt through would open the door to password
    guessing, so while the cache is unreachable (a Redis restart) sign-in answers 503 with
    Retry-After instead of a 500. Requests with a valid access token do not touch the cache
    and keep working.
    """

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except RedisError as error:
            logger.warning("Sign-in refused for now: the throttle's cache is unreachable (%s).", type(error).__name__)
            raise SignInUnavailable() from None


class SignInSerializer(StrictInputMixin, TokenObtainPairSerializer):
    pass


class RefreshSerializer(StrictInputMixin, TokenRefreshSerializer):
    pass


class ThrottledTokenObtainPairView(TokenObtainPairView):
    serializer_class = SignInSerializer
    throttle_classes = [SignInThrottle]
    throttle_scope = "auth"


class ThrottledTokenRefreshView(TokenRefreshView):
    serializer_class = RefreshSerializer
    throttle_classes = [SignInThrottle]
    throttle_scope = "auth"


class LogoutSerializer(StrictInputMixin, serializers.Serializer):
    refresh = serializers.CharField()


class LogoutView(APIView):
    """Blacklist the refresh token so it cannot mint new access tokens; the access token expires on its own."""

    permission_classes = [AllowAny]
    throttle_classes = [SignInThrottle]
    throttle_scope = "auth"

    @extend_schema(request=LogoutSerializer, responses={204: None})
    def post(self, request):
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            RefreshToken(serializer.validated_data["refresh"]).blacklist()
        except TokenError:
            raise InvalidInput(SESSION_EXPIRED, code="token_invalid", field="refresh") from None
        return Response(status=status.HTTP_204_NO_CONTENT)
