"""What LiveFeed calls out to: mail servers, vendors' APIs — each through the outbound policy."""
