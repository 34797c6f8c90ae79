"""Errors of BOS's event handlers."""

from __future__ import annotations

from uuid import UUID


class UnknownBatchError(LookupError):
    """An event names a batch BOS never registered.

    BOS commits a batch before its registration event exists, so every intake event about a
    batch follows its row; one that does not is a real inconsistency. Raising lets the consumer
    retry and then dead-letter it: visible, never silently dropped.
    """

    def __init__(self, batch_id: UUID) -> None:
        super().__init__(f"batch {batch_id} is not registered")
        self.batch_id = batch_id
