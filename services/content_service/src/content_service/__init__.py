"""content_service: content-addressed storage (sha256) of essay texts and raw files."""
