"""driftwarden alerts."""
