"""Background jobs: the runner (attempts, heartbeat, one unit of work per run) and thin tasks that pass ids to services."""
