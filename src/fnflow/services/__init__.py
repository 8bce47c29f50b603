"""Use cases behind the API and the CLI: validate, then call the store or the runtime."""
