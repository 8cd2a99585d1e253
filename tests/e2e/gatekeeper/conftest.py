"""The unit tests' small real OpenID Provider (in a thread) serves the gatekeeper process too."""

from gatekeeper_fixtures import dex  # noqa: F401
