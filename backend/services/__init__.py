"""Service layer: the rules of the archive and the transactions that carry them out (no Flask request access)."""
