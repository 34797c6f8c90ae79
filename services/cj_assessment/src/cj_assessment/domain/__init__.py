"""Pure comparative-judgement logic: no I/O; deterministic given a numpy Generator."""
