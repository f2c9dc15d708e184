"""Tests of offline sync (GET /api/v1/sync) and of the change log behind it."""
