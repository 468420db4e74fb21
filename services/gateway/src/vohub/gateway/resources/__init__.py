"""HTTP resources of the gateway, one class per endpoint family (routes live in ``app.py``)."""
