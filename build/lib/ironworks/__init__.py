"""Ironworks: shared core (settings, model, store, blobs) and the CLI."""
