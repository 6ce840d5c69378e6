"""Shared plumbing: settings, database, auth, events, errors. Nothing domain-specific lives here."""
