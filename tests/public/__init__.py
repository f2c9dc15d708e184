"""Tests of the public archive API, redactions and programme statistics."""
