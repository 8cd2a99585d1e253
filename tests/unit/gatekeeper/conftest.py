"""Makes the gatekeeper test helpers' fixtures visible to every test in this folder."""

from gatekeeper_fixtures import dex  # noqa: F401
