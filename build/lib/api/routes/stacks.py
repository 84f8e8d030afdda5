from __future__ import annotations

from flask import Blueprint, jsonify

from ironworks.stacks import STACKS

bp = Blueprint("stacks", __name__)


@bp.get("/2/stacks")
def list_stacks():
    """The runtime stacks a code may name (built by images/build.sh on every runner host)."""
    return jsonify(stacks=[{"name": name, "image": image} for name, image in STACKS.items()])
