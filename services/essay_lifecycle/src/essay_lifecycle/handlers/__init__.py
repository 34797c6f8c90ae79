"""One module per consumed event type; each runs inside the consumer loop's UnitOfWork."""
