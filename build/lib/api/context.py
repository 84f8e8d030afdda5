"""Accessors for the per-app objects create_app() puts in place."""

from __future__ import annotations

from flask import current_app

from ironworks.blobs import LocalBlobStore
from ironworks.settings import Settings
from ironworks.store import Store


def settings() -> Settings:
    return current_app.extensions["ironworks"]["settings"]


def store() -> Store:
    return current_app.extensions["ironworks"]["store"]


def blobs() -> LocalBlobStore:
    return current_app.extensions["ironworks"]["blobs"]
