"""file_service: validates uploaded essays, extracts their text, emits one event per file."""
