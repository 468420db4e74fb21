"""vohub archive: the VOEvent store (SQLite or PostgreSQL+q3c) and its gRPC Ingest/Query API."""
