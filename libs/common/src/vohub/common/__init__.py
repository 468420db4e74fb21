"""Service plumbing shared by every vohub service: config, logs, metrics, gRPC health."""
