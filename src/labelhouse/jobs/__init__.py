"""Background jobs: exports, snapshots (and later imports) run by huey consumers, recorded
in our own ``job`` table. Domain functions stay plain and synchronous; a job is one call of
one of them with a progress callback and a cancel check (see :mod:`labelhouse.jobs.runner`)."""
