"""The node's bearer token for the control plane's HTTP API (DESIGN §7).

The agent authenticates as its node: OAuth 2 ``client_credentials`` with the client id
``node-{id}`` and the node's secret at ``{control_plane}/oauth/token``. File downloads and
the live video ingest share one ``NodeToken``: it keeps the token until a request is
refused, then ``get(refresh=True)`` asks for a new one.
"""

from __future__ import annotations

import httpx

from shared import topics


class TokenError(Exception):
    """No token could be obtained; the message says why (never the secret)."""


class NodeToken:
    """The current token of node ``node_id`` at ``base_url`` (``.../gosd``)."""

    def __init__(self, base_url: str, node_id: int, secret: str) -> None:
        self._url = base_url.rstrip("/") + "/oauth/token"
        self._client_id = topics.node_username(node_id)
        self._secret = secret
        self._token: str | None = None

    async def get(self, http: httpx.AsyncClient, *, refresh: bool = False) -> str:
        """The token (asked for when none is held, or when ``refresh``)."""
        if self._token is not None and not refresh:
            return self._token
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._secret,
        }
        try:
            response = await http.post(self._url, data=form)
        except httpx.HTTPError as exc:
            raise TokenError(f"token request failed: {exc}") from exc
        if response.status_code != 200:
            raise TokenError(f"token request answered HTTP {response.status_code}")
        try:
            token = response.json()["access_token"]
        except (ValueError, KeyError, TypeError):
            token = None
        if not isinstance(token, str) or not token:
            raise TokenError("token response has no access_token")
        self._token = token
        return token
