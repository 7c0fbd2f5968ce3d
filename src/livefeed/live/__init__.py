"""Fan-out of committed events to live streams."""
