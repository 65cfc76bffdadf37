"""Plays the user's browser over HTTP: follows /authorize through login and consent to the
client's redirect URI, and returns that callback URL. Shared by the interop scripts."""
import html
import re
from urllib.parse import urljoin

import requests


def _field(page, name):
    match = re.search(r'<input[^>]*name="%s"[^>]*value="([^"]*)"' % re.escape(name), page)
    if not match:
        raise AssertionError("no field %r in page:\n%s" % (name, page))
    return html.unescape(match.group(1))


def authorize(authorization_url, username, password):
    browser = requests.Session()
    res = browser.get(authorization_url, allow_redirects=False)
    assert res.status_code == 302, (res.status_code, res.text)
    login_url = urljoin(authorization_url, res.headers["Location"])
    login = browser.get(login_url)
    assert login.status_code == 200, login.text
    res = browser.post(urljoin(login_url, "/login"), data={
        "username": username,
        "password": password,
        "csrf": _field(login.text, "csrf"),
        "return_to": _field(login.text, "return_to"),
    }, allow_redirects=False)
    assert res.status_code == 303, (res.status_code, res.text)
    consent = browser.get(urljoin(login_url, res.headers["Location"]), allow_redirects=False)
    assert consent.status_code == 200 and "Allow access?" in consent.text, (consent.status_code, consent.text)
    res = browser.post(urljoin(login_url, "/consent"), data={
        "csrf": _field(consent.text, "csrf"),
        "request": _field(consent.text, "request"),
        "decision": "allow",
    }, allow_redirects=False)
    assert res.status_code == 303, (res.status_code, res.text)
    return res.headers["Location"]
