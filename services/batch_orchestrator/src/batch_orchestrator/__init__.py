"""batch_orchestrator (BOS): owns the batch lifecycle, from registration to pipeline completion."""
