"""essay_lifecycle: essay slots, per-essay state, and the end of content intake per batch."""
