"""dex-auth's gatekeeper: the auth service the gateway asks about every request (see docs/architecture.md)."""
