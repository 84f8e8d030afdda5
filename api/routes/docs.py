from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from api.openapi import document

bp = Blueprint("docs", __name__)


@bp.get("/openapi.json")
def openapi():
    return jsonify(document(current_app))
