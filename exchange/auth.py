"""Bearer tokens of API clients (OAuth2 client credentials), beside the staff's JWTs."""

from __future__ import annotations

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from exchange import services
from exchange.readers import ClientPrincipal


class ClientTokenAuthentication(BaseAuthentication):
    """Accepts `Authorization: Bearer fhc_...`; any other bearer value is left to the JWT authentication."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != b"bearer":
            return None
        token = parts[1].decode("latin-1")
        if not token.startswith(services.TOKEN_PREFIX):
            return None
        client = services.client_for_token(token)
        if client is None:
            raise AuthenticationFailed("The access token is unknown or has expired; ask for a new one.")
        return ClientPrincipal(client), token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="fhir"'
