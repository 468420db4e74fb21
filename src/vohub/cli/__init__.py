"""vohub command line."""
