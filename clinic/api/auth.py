"""Token endpoints: obtain, refresh (rotating, with blacklist) and logout. Throttled per client."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
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


class SignInSerializer(StrictInputMixin, TokenObtainPairSerializer):
    pass


class RefreshSerializer(StrictInputMixin, TokenRefreshSerializer):
    pass


class ThrottledTokenObtainPairView(TokenObtainPairView):
    serializer_class = SignInSerializer
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"


class ThrottledTokenRefreshView(TokenRefreshView):
    serializer_class = RefreshSerializer
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"


class LogoutSerializer(StrictInputMixin, serializers.Serializer):
    refresh = serializers.CharField()


class LogoutView(APIView):
    """Blacklist the refresh token so it cannot mint new access tokens; the access token expires on its own."""

    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
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
