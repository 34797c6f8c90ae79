"""One module per group of consumed events; each runs inside the consumer loop's UnitOfWork."""
