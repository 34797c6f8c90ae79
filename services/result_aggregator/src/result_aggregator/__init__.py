"""result_aggregator: per-batch and per-essay views built from every result event."""
