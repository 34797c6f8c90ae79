"""Pure spellchecking: tokens, corrections and corrected text, no I/O beyond the dictionary."""
