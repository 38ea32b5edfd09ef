"""driftwarden monitor: the daemon (config, CLI, windows, pipeline, service, store, HTTP, reports)."""

from monitor.config import ConfigError, DriftwardenConfig, load_config

__all__ = ["ConfigError", "DriftwardenConfig", "load_config"]
