"""The benchmark of the gatekeeper's check path (issue 6): `scripts/bench`, not part of the test suite."""
