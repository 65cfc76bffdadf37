"""The device authorization grant (RFC 8628) from Python clients against Tessera: oauthlib's
DeviceClient (a public client) builds the polls and parses the answers, Authlib's OAuth2Session
(a confidential client, client_secret_basic) fetches the token with the device_code grant.
Prints a JSON summary.

Environment: TESSERA_URL, PUBLIC_CLIENT_ID, CLIENT_ID, CLIENT_SECRET, USERNAME, PASSWORD."""
import json
import os
import time

import requests
from authlib.integrations.requests_client import OAuth2Session
from oauthlib.oauth2 import DeviceClient
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from browser import approve_device

base = os.environ["TESSERA_URL"]
GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def poll(client, device_code):
    """One poll with oauthlib: the token, or the error code oauthlib raised."""
    body = client.prepare_request_body(device_code, include_client_id=True)
    res = requests.post(base + "/token", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        return client.parse_request_body_response(res.text), None
    except OAuth2Error as err:
        return None, err.error


# oauthlib: a public client, its client_id in the body.
tv = DeviceClient(os.environ["PUBLIC_CLIENT_ID"])
started = requests.post(base + "/device_authorization", data={"client_id": tv.client_id, "scope": "read"}).json()
_, pending = poll(tv, started["device_code"])
_, too_fast = poll(tv, started["device_code"])
page = approve_device(started["verification_uri_complete"], os.environ["USERNAME"], os.environ["PASSWORD"])
# RFC 8628 §3.5: slow_down added 5 s to the interval; wait it out before the next poll.
time.sleep(started["interval"] + 5 + 0.2)
token, error = poll(tv, started["device_code"])

# Authlib: a confidential client, Basic authentication, fetch_token with the device_code grant.
app = OAuth2Session(os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"], token_endpoint_auth_method="client_secret_basic")
started2 = requests.post(base + "/device_authorization", data={"scope": "read"}, auth=(os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"])).json()
denied_page = approve_device(started2["verification_uri_complete"], os.environ["USERNAME"], os.environ["PASSWORD"], "deny")
try:
    app.fetch_token(base + "/token", grant_type=GRANT, device_code=started2["device_code"])
    denied = None
except Exception as err:  # Authlib raises OAuthError with the server's error code
    denied = getattr(err, "error", repr(err))
started3 = requests.post(base + "/device_authorization", data={"scope": "read"}, auth=(os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"])).json()
approve_device(started3["verification_uri_complete"], os.environ["USERNAME"], os.environ["PASSWORD"])
authlib_token = app.fetch_token(base + "/token", grant_type=GRANT, device_code=started3["device_code"])

print(json.dumps({
    "started": {k: started[k] for k in ("verification_uri", "expires_in", "interval")},
    "user_code": started["user_code"],
    "pending": pending,
    "too_fast": too_fast,
    "approved_page": "Device connected" in page,
    "oauthlib_token": token and {"token_type": token["token_type"], "scope": token["scope"], "has_refresh": "refresh_token" in token},
    "oauthlib_error": error,
    "authlib_denied": denied,
    "authlib_token": {"token_type": authlib_token["token_type"], "scope": authlib_token["scope"], "has_refresh": "refresh_token" in authlib_token},
}))
