"""VOEvent toolkit."""
