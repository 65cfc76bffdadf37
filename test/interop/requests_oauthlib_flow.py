"""The seed tutorial's client code, against Tessera: requests-oauthlib's OAuth2Session through
authorization_url → login and consent → fetch_token → refresh_token, then the tutorial's
revocation POST (RFC 7009) and an introspection (RFC 7662). Prints a JSON summary.

Environment: TESSERA_URL, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, USERNAME, PASSWORD."""
import base64
import hashlib
import json
import os
import secrets

import requests
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from browser import authorize

base = os.environ["TESSERA_URL"]
client_id = os.environ["CLIENT_ID"]
client_secret = os.environ["CLIENT_SECRET"]
auth = HTTPBasicAuth(client_id, client_secret)

# PKCE (RFC 7636) by hand: requests-oauthlib 1.3 has no pkce= option, but passes the parameters on.
code_verifier = secrets.token_urlsafe(48)
code_challenge = base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=").decode()

oauth_session = OAuth2Session(client_id=client_id, redirect_uri=os.environ["REDIRECT_URI"], scope=["read", "write"])
authorization_url, state = oauth_session.authorization_url(
    base + "/authorize", code_challenge=code_challenge, code_challenge_method="S256")

authorization_response = authorize(authorization_url, os.environ["USERNAME"], os.environ["PASSWORD"])

token = oauth_session.fetch_token(
    base + "/token", client_secret=client_secret, authorization_response=authorization_response,
    code_verifier=code_verifier)

new_token = oauth_session.refresh_token(base + "/token", refresh_token=token["refresh_token"], auth=auth)


def revoke_token(token, token_type_hint="access_token", url=base + "/revoke"):
    """The tutorial's revocation POST, with the client's credentials (RFC 7009 §2.1)."""
    data = {"token": token, "token_type_hint": token_type_hint}
    return requests.post(url, data=data, auth=auth)


def introspect(token):
    return requests.post(base + "/introspect", data={"token": token}, auth=auth).json()


before = introspect(new_token["access_token"])
revoked = revoke_token(new_token["refresh_token"], token_type_hint="refresh_token")
# The tutorial's POST exactly as printed, without client credentials: refused, never a 500.
unauthenticated = requests.post(base + "/revoke", data={"token": new_token["access_token"], "token_type_hint": "access_token"})

print(json.dumps({
    "state_matches": authorization_response.find("state=" + state) >= 0,
    "token": {k: token[k] for k in ("token_type", "scope", "expires_in")},
    "token_has_refresh": "refresh_token" in token,
    "rotated": new_token["refresh_token"] != token["refresh_token"],
    "new_access_differs": new_token["access_token"] != token["access_token"],
    "introspect_before": before,
    "revoke_status": revoked.status_code,
    "revoke_cache_control": revoked.headers.get("Cache-Control"),
    "introspect_access_after": introspect(new_token["access_token"]),
    "introspect_refresh_after": introspect(new_token["refresh_token"]),
    "unauthenticated_revoke": {"status": unauthenticated.status_code, "body": unauthenticated.json()},
    "old_refresh_replayed": requests.post(base + "/token", data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"]}, auth=auth).json(),
}))
