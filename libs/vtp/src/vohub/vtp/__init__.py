"""VOEvent Transport Protocol."""
