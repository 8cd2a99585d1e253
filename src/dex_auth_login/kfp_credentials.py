"""Credentials for `kfp.Client(credentials=...)` that keep the bearer token valid for long jobs.

`existing_token` is fixed for the client's life; KFP instead calls `refresh_api_key_hook` before
every API request, so a job that outlives `id-token-expiry` keeps working. Duck-typed on KFP's
`TokenCredentialsBase`: this package does not import kfp.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from .cache import TokenCache
from .login import Secret, obtain_tokens
from .tokens import TokenSet


class KfpCredentials:
    """A valid ID token on every KFP request: kept in memory, renewed from the cache or Dex."""

    def __init__(
        self,
        url: str,
        *,
        username: Secret | None = None,
        password: Secret | None = None,
        device: bool = False,
        cache_path: Path | str | None = None,
        use_cache: bool = True,
        min_validity: float = 60.0,
        **options: Any,
    ) -> None:
        self._url = url
        self._login = {"username": username, "password": password, "device": device, **options}
        self._cache = TokenCache(cache_path) if use_cache else None
        self._min_validity = min_validity
        self._tokens: TokenSet | None = None
        self._lock = threading.Lock()

    def token(self) -> str:
        """The current ID token, renewed when it would expire within `min_validity` seconds."""
        with self._lock:
            if self._tokens is None or not self._tokens.is_fresh(self._min_validity):
                self._tokens = obtain_tokens(
                    self._url, cache=self._cache, min_validity=self._min_validity, **self._login
                )
            return self._tokens.id_token

    def refresh_api_key_hook(self, config: Any) -> None:
        """Called by KFP's generated API client before each request."""
        config.api_key["authorization"] = self.token()
        config.api_key_prefix["authorization"] = "Bearer"
