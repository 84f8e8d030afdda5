"""`python -m api`: serve the API under gunicorn."""

from __future__ import annotations

import re

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from api import create_app
from ironworks import logsetup
from ironworks.logsetup import JsonFormatter
from ironworks.preflight import check_redis
from ironworks.settings import Settings
from ironworks.store import Store


class ApiServer(BaseApplication):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for name, value in gunicorn_config(self.settings).items():
            self.cfg.set(name, value)

    def load(self):
        return create_app(self.settings)


# `?oauth=` (IronWorker's way of passing a token in the URL, used by inbound webhooks).
TOKEN_IN_URL = re.compile(r"(?i)\b(oauth|token)=[^&\s\"]+")


# What gunicorn's own atoms read from the environ.
ATOM_ENVIRON = (
    "REMOTE_ADDR", "REQUEST_METHOD", "RAW_URI", "SERVER_PROTOCOL", "PATH_INFO", "QUERY_STRING",
    "HTTP_REFERER", "HTTP_USER_AGENT", "HTTP_AUTHORIZATION",
)  # fmt: skip


class RedactingLogger(Logger):
    """gunicorn's logger, with tokens in request lines, query strings and referrers replaced:
    an access log is read by many more people than a token should be."""

    def atoms(self, resp, req, environ, request_time) -> dict:
        if "%({" not in self.cfg.access_log_format:
            # gunicorn's atoms hold every header and environ variable too, for formats that
            # name one (`%({name}i)s`); a format that names none costs no request that.
            req, environ = (), {k: environ[k] for k in ATOM_ENVIRON if k in environ}
        atoms = super().atoms(resp, req, environ, request_time)
        for k, v in atoms.items():
            if isinstance(v, str) and "=" in v:  # most atoms hold none: no regex for them
                atoms[k] = TOKEN_IN_URL.sub(r"\1=REDACTED", v)
        return atoms


def gunicorn_config(settings: Settings) -> dict[str, object]:
    """Threads for the many slow clients (log followers, waits), a worker process per core
    and a half for the CPU; requests in flight get 20 s to finish on SIGTERM."""
    config: dict[str, object] = {
        "bind": settings.api_bind,
        "workers": settings.api_worker_count,
        "worker_class": "gthread",
        "threads": 4,
        "timeout": 60,
        "graceful_timeout": 20,
        "keepalive": 5,
        # gunicorn's largest request line (its default is 4094): a long filtered listing URL
        # reaches the API, which answers in JSON, rather than gunicorn's HTML error page.
        "limit_request_line": 8190,
        "accesslog": "-",
        "logger_class": RedactingLogger,
        # A listening socket per worker (SO_REUSEPORT): the kernel spreads new connections
        # over the workers. On one shared socket, the first worker to wake could take every
        # connection of a client that keeps a few open, and serve them on one core.
        "reuse_port": not settings.api_bind.startswith("unix:"),
    }
    if settings.log_format == "json":  # gunicorn's own lines in the same JSON shape
        config["access_log_format"] = "%(m)s %(U)s %(s)s %(B)s bytes %(M)s ms"
        config["logconfig_dict"] = {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"json": {"()": JsonFormatter, "role": "api"}},
            "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
            "loggers": {
                name: {"level": "INFO", "handlers": ["console"], "propagate": False}
                for name in ("gunicorn.error", "gunicorn.access")
            },
        }
    return config


def main() -> None:
    settings = Settings.from_env()
    logsetup.configure("api", settings.log_format)
    check_redis(Store.connect(settings))
    ApiServer(settings).run()


if __name__ == "__main__":
    main()
