"""driftwarden connectors."""
