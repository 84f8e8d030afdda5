"""How IRONWORKS_REDIS_URL names a Redis watched by Sentinel (pure parsing; the failover
itself is tests/test_sentinel.py)."""

from __future__ import annotations

import pytest

from ironworks import redisconn
from ironworks.errors import ConfigError
from ironworks.redisconn import SentinelUrl


def test_a_sentinel_url_names_the_sentinels_the_service_and_the_database():
    url = SentinelUrl.parse("redis+sentinel://:s%40cret@10.0.0.1:26379,sentinel-b:26380/iw/3")
    assert url.sentinels == [("10.0.0.1", 26379), ("sentinel-b", 26380)]
    assert (url.service, url.db, url.username, url.password) == ("iw", 3, None, "s@cret")


def test_the_database_defaults_to_0_and_a_user_may_be_named():
    url = SentinelUrl.parse("redis+sentinel://ops:pw@[::1]:26379/main")
    assert (url.sentinels, url.service, url.db) == ([("::1", 26379)], "main", 0)
    assert (url.username, url.password) == ("ops", "pw")


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://10.0.0.1:26379",  # no service
        "redis+sentinel:///iw",  # no sentinel
        "redis+sentinel://10.0.0.1/iw",  # no port
        "redis+sentinel://10.0.0.1:x/iw",
        "redis+sentinel://10.0.0.1:26379/iw/zero",
        "redis+sentinel://10.0.0.1:26379/iw/0/extra",
    ],
)
def test_a_malformed_sentinel_url_is_refused_with_the_form_it_should_have(url):
    with pytest.raises(ConfigError, match="Sentinel URL"):
        SentinelUrl.parse(url)


def test_reads_have_no_timeout_and_dead_peers_are_found_by_keepalive():
    """The module's promise (redis-py 8 would time reads out after 5 s: a 100,000-item
    batch's MULTI was answered 503 on a busy machine)."""
    for client in (redisconn.connect("redis://127.0.0.1:1/0"),
                   redisconn.connect("redis+sentinel://127.0.0.1:1/iw")):  # fmt: skip
        options = client.connection_pool.connection_kwargs
        assert options["socket_timeout"] is None and options["socket_keepalive"] is True
