"""FDL: parse, validate and compile flow definitions (pure, no I/O)."""
