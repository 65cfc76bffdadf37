"""Plays the user's browser over HTTP: follows /authorize through login and consent to the
client's redirect URI and returns that callback URL; or, for the device flow, signs in and
decides on the /device page. Shared by the interop scripts."""
import html
import re
from urllib.parse import urljoin

import requests


def _field(page, name):
    match = re.search(r'<input[^>]*name="%s"[^>]*value="([^"]*)"' % re.escape(name), page)
    if not match:
        raise AssertionError("no field %r in page:\n%s" % (name, page))
    return html.unescape(match.group(1))


def _signed_in(url, username, password):
    """Opens `url` signed out, signs in on the login page it is sent to, and returns the browser
    and the URL login sends it back to."""
    browser = requests.Session()
    res = browser.get(url, allow_redirects=False)
    assert res.status_code == 302, (res.status_code, res.text)
    login_url = urljoin(url, res.headers["Location"])
    login = browser.get(login_url)
    assert login.status_code == 200, login.text
    res = browser.post(urljoin(login_url, "/login"), data={
        "username": username,
        "password": password,
        "csrf": _field(login.text, "csrf"),
        "return_to": _field(login.text, "return_to"),
    }, allow_redirects=False)
    assert res.status_code == 303, (res.status_code, res.text)
    return browser, urljoin(login_url, res.headers["Location"])


def authorize(authorization_url, username, password):
    browser, back = _signed_in(authorization_url, username, password)
    consent = browser.get(back, allow_redirects=False)
    assert consent.status_code == 200 and "Allow access?" in consent.text, (consent.status_code, consent.text)
    res = browser.post(urljoin(back, "/consent"), data={
        "csrf": _field(consent.text, "csrf"),
        "request": _field(consent.text, "request"),
        "decision": "allow",
    }, allow_redirects=False)
    assert res.status_code == 303, (res.status_code, res.text)
    return res.headers["Location"]


def approve_device(verification_uri_complete, username, password, decision="allow"):
    """The user's side of RFC 8628: opens verification_uri_complete, signs in, confirms the code
    (filled in), and allows or denies. Returns the final page's text."""
    browser, back = _signed_in(verification_uri_complete, username, password)
    entry = browser.get(back)
    assert entry.status_code == 200, entry.text
    device_url = urljoin(back, "/device")
    consent = browser.post(device_url, data={"csrf": _field(entry.text, "csrf"), "user_code": _field(entry.text, "user_code")})
    assert consent.status_code == 200 and "Allow access?" in consent.text, (consent.status_code, consent.text)
    done = browser.post(device_url, data={
        "csrf": _field(consent.text, "csrf"),
        "user_code": _field(consent.text, "user_code"),
        "decision": decision,
    })
    assert done.status_code == 200, (done.status_code, done.text)
    return done.text
