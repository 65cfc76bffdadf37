"""Authlib's requests client against Tessera: authorization code with PKCE (S256), refresh,
introspect_token and revoke_token, plus client_credentials. Prints a JSON summary.

Environment: TESSERA_URL, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, USERNAME, PASSWORD."""
import json
import os

from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from browser import authorize

base = os.environ["TESSERA_URL"]
client = OAuth2Session(
    os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"], scope="read write",
    redirect_uri=os.environ["REDIRECT_URI"], code_challenge_method="S256",
    token_endpoint_auth_method="client_secret_basic")

code_verifier = generate_token(48)
uri, state = client.create_authorization_url(base + "/authorize", code_verifier=code_verifier)
callback = authorize(uri, os.environ["USERNAME"], os.environ["PASSWORD"])
token = client.fetch_token(base + "/token", authorization_response=callback, code_verifier=code_verifier)
refreshed = client.refresh_token(base + "/token", refresh_token=token["refresh_token"])

active = client.introspect_token(base + "/introspect", token=refreshed["access_token"]).json()
revoked = client.revoke_token(base + "/revoke", token=refreshed["access_token"], token_type_hint="access_token")
inactive = client.introspect_token(base + "/introspect", token=refreshed["access_token"]).json()

cc = OAuth2Session(os.environ["CC_CLIENT_ID"], os.environ["CC_CLIENT_SECRET"], token_endpoint_auth_method="client_secret_post")
cc_token = cc.fetch_token(base + "/token", grant_type="client_credentials", scope="read")
# As Authlib's documentation shows: revoke_token and introspect_token on the same session. They
# authenticate with Basic unless told otherwise, although this client registered client_secret_post.
cc_active = cc.introspect_token(base + "/introspect", token=cc_token["access_token"])
cc_revoked = cc.revoke_token(base + "/revoke", token=cc_token["access_token"])
cc_inactive = cc.introspect_token(base + "/introspect", token=cc_token["access_token"])

print(json.dumps({
    "token_scope": token["scope"],
    "rotated": refreshed["refresh_token"] != token["refresh_token"],
    "active": active,
    "revoke_status": revoked.status_code,
    "inactive": inactive,
    "refresh_still_active": client.introspect_token(base + "/introspect", token=refreshed["refresh_token"]).json()["active"],
    "cc_token": {k: cc_token.get(k) for k in ("token_type", "scope", "refresh_token")},
    "cc_introspect": {"status": cc_active.status_code, "active": cc_active.json().get("active")},
    "cc_revoke_status": cc_revoked.status_code,
    "cc_inactive": cc_inactive.json(),
}))
