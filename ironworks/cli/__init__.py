"""The `ironworks` command line."""
