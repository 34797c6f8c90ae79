"""spellchecker: corrects essays, stores corrected text, reports corrections."""
