"""Domain queries, one module per concern, combined into ``fnflow.store.tx.Tx``."""
