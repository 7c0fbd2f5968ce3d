"""LiveFeed: a self-hosted real-time sales-engagement feed."""

__version__ = "0.1.0"
