"""Background jobs: the task queue (Huey) and thin tasks that pass ids to services."""
