"""Pure upload logic: format detection, text extraction and validation (no I/O)."""
