"""The REST API (IronWorker v2 shape) as a Flask app factory."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import BaseConverter

from api import dashboard, durability, errors
from api.routes import docs, health, project_scope, projects, runners, stacks
from ironworks.blobs import LocalBlobStore
from ironworks.settings import Settings
from ironworks.store import Store

# Multipart overhead on top of the largest archive we accept.
REQUEST_OVERHEAD_BYTES = 1024 * 1024


class IdConverter(BaseConverter):
    """An object's id in a path: any segment but the names of the collection's own routes,
    so that `tasks/replay` and `tasks/webhook` are never taken for a task's id (and a 405
    lists only the methods those routes take)."""

    regex = "(?!(?:replay|webhook)$)[^/]+"


def create_app(settings: Settings, store: Store | None = None) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.url_map.converters["id"] = IdConverter
    app.config["MAX_CONTENT_LENGTH"] = settings.max_archive_bytes + REQUEST_OVERHEAD_BYTES
    app.extensions["ironworks"] = {
        "settings": settings,
        "store": store or Store.connect(settings),
        "blobs": LocalBlobStore(settings.blob_dir),
    }
    errors.register(app)
    durability.register(app, app.extensions["ironworks"]["store"], settings)
    dashboard.register(app, app.extensions["ironworks"]["store"])
    for blueprint in (health.bp, docs.bp, projects.bp, runners.bp, stacks.bp, project_scope.bp):
        app.register_blueprint(blueprint)
    return app
