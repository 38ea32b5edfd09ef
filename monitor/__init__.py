"""driftwarden monitor."""
