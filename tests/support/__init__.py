"""Helpers and fixtures the test modules share (imported from here, never from another test module)."""
