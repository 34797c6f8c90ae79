"""The content table: one row per distinct content (its sha256 is its id)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, LargeBinary, MetaData, Table, Text, func

metadata = MetaData()

contents = Table(
    "contents",
    metadata,
    Column("id", Text, primary_key=True),
    Column("media_type", Text, nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
