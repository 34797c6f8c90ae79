"""Pure logic of the read model: folding facts into statuses, placing files, building views."""
