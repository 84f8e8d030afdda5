"""Runs each task in its own hardened Docker container. The only package that talks to Docker."""
