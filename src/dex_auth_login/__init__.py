"""dex-auth-login: tokens for scripts, CI jobs and the KFP SDK from a dex-auth deployment.

from dex_auth_login import login
token = login("https://kubeflow.example.com", username="user@example.com", password=secret)
kfp.Client(host="https://kubeflow.example.com/pipeline", existing_token=token)
"""

from .cache import TokenCache, default_cache_path
from .device import DevicePrompt
from .errors import (
    CacheError,
    ClientRejectedError,
    DeviceLoginError,
    GrantDisabledError,
    InvalidCredentialsError,
    LoginError,
    NotAnIssuerError,
    ProviderError,
    UnreachableError,
    UsageError,
)
from .kfp_credentials import KfpCredentials
from .login import issuer_for, login, obtain_tokens, session_cookie
from .tokens import TokenSet

__all__ = [
    "CacheError",
    "ClientRejectedError",
    "DeviceLoginError",
    "DevicePrompt",
    "GrantDisabledError",
    "InvalidCredentialsError",
    "KfpCredentials",
    "LoginError",
    "NotAnIssuerError",
    "ProviderError",
    "TokenCache",
    "TokenSet",
    "UnreachableError",
    "UsageError",
    "default_cache_path",
    "issuer_for",
    "login",
    "obtain_tokens",
    "session_cookie",
]
