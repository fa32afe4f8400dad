"""Benchmarks of the CMS against a floor; not part of the test suite (see README.md here)."""
