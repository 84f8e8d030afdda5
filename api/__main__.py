"""`python -m api`: serve the API under gunicorn."""

from __future__ import annotations

import logging

from gunicorn.app.base import BaseApplication

from api import create_app
from ironworks.preflight import check_redis
from ironworks.settings import Settings
from ironworks.store import Store


class ApiServer(BaseApplication):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", self.settings.api_bind)
        self.cfg.set("workers", self.settings.api_workers)
        self.cfg.set("worker_class", "gthread")
        self.cfg.set("threads", 4)
        self.cfg.set("graceful_timeout", 10)
        self.cfg.set("accesslog", "-")

    def load(self):
        return create_app(self.settings)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s api %(levelname)s %(message)s")
    settings = Settings.from_env()
    check_redis(Store.connect(settings))
    ApiServer(settings).run()


if __name__ == "__main__":
    main()
