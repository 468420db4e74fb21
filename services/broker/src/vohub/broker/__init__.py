"""vohub broker: a Comet-compatible VTP broker with filters, dedup and archive hand-off."""
