"""The partner API (PROTOCOL.md §5) as flask-smorest blueprints."""
