"""Generated gRPC code for the vohub.v1 contracts (run `make protos` to regenerate)."""
