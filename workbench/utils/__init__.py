"""Small shared helpers: atomic file writes, progress bars, error types."""
