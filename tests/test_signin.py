"""Signing in to the dashboard: where it sends you afterwards, and how the cookie is marked."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from tests.harness import ADMIN_TOKEN

OFF_SITE = [
    "//evil.com",
    "/\\evil.com",
    "/\\/evil.com",
    "/\t/evil.com",
    "/\n/evil.com",
    "https://evil.com/",
]


def sign_in(api, query: str = "", base_url: str = "http://localhost"):
    """Submit the sign-in form as a browser does: its CSRF token first, then the admin token."""
    form = api.get("/login", base_url=base_url).get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    return api.post(f"/login{query}", data={"token": ADMIN_TOKEN, "csrf": csrf}, base_url=base_url)


@pytest.mark.parametrize("wanted", OFF_SITE)
def test_sign_in_never_redirects_off_site(api, wanted):
    response = sign_in(api, "?" + urlencode({"next": wanted}))
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_sign_in_returns_to_the_page_asked_for(api):
    response = sign_in(api, "?next=/tasks%3Fstatus%3Derror")
    assert response.headers["Location"] == "/tasks?status=error"


def test_the_session_cookie_is_secure_over_https_only(api):
    over_https = sign_in(api, base_url="https://localhost")
    assert "Secure" in over_https.headers["Set-Cookie"]
    assert "HttpOnly" in over_https.headers["Set-Cookie"]
    over_http = sign_in(api)
    assert "Secure" not in over_http.headers["Set-Cookie"]
