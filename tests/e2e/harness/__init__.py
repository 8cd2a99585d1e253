"""End-to-end harness: the charm's outputs run as real processes (see stack.py)."""
