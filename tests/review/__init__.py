"""Tests of transcript review: claims, edits under If-Match, lineage, diffs and the workflow."""
