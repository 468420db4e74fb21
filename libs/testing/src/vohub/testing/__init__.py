"""Test support for vohub: free ports, supervised subprocesses, real third-party peers."""
