"""Migrations of the PostgreSQL queue, recorded in the ``taskdaemon_migrations`` table and
applied under an advisory lock (see ``postgres.py``)."""
