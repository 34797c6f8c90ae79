"""Pure batch logic: no I/O, so every rule is testable on its own."""
