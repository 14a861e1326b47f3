"""The domain: pure rules and types (standard library only)."""
