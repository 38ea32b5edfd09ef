"""Loopback test doubles of outside services (Slack Web API, webhook receivers)."""
