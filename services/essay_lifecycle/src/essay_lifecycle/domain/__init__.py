"""Pure essay-lifecycle rules: the essay state machine and the intake-complete rule (no I/O)."""
