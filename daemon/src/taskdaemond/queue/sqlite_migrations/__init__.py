"""Migrations of the SQLite queue, recorded in the file's ``PRAGMA user_version``."""
