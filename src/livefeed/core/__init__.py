"""Pure logic: standard library only. Functions take `now` and lookups as arguments."""
