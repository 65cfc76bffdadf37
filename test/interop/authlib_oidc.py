"""Authlib's OpenID Connect client against Tessera: discovery from the server metadata URL, the
code flow with PKCE and a nonce, parse_id_token (signature from jwks_uri, iss, aud, exp, iat,
nonce, at_hash: Authlib's CodeIDToken rules), userinfo. Prints a JSON summary, with the algorithm
of the ID Token Authlib accepted.

The app class is what Authlib's Flask and Starlette clients are made of (OAuth2Mixin +
OpenIDMixin over requests), without a web framework: this script plays the browser itself.

Environment: TESSERA_URL, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, USERNAME, PASSWORD."""
import base64
import json
import os
from urllib.parse import parse_qs, urlparse

from authlib.integrations.base_client import BaseApp, OAuth2Mixin, OpenIDMixin
from authlib.integrations.requests_client import OAuth2Session

from browser import authorize


class NoFramework:
    """Authlib's framework hook: only called to store refreshed tokens, which this script keeps itself."""

    def update_token(self, token, refresh_token=None, access_token=None):
        pass


class OpenIDApp(OAuth2Mixin, OpenIDMixin, BaseApp):
    client_cls = OAuth2Session


base = os.environ["TESSERA_URL"]
app = OpenIDApp(
    NoFramework(), name="tessera",
    client_id=os.environ["CLIENT_ID"], client_secret=os.environ["CLIENT_SECRET"],
    server_metadata_url=base + "/.well-known/openid-configuration",
    client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256", "token_endpoint_auth_method": "client_secret_basic"},
)

# Authlib adds a nonce by itself to any request whose scope has openid.
request = app.create_authorization_url(redirect_uri=os.environ["REDIRECT_URI"])
sent = parse_qs(urlparse(request["url"]).query)
callback = authorize(request["url"], os.environ["USERNAME"], os.environ["PASSWORD"])
code = parse_qs(urlparse(callback).query)["code"][0]
token = app.fetch_access_token(redirect_uri=os.environ["REDIRECT_URI"], code=code, code_verifier=request["code_verifier"])
claims = app.parse_id_token(token, nonce=request["nonce"])
userinfo = app.userinfo(token=token)

wrong_nonce = None
try:
    app.parse_id_token(token, nonce="not-the-nonce")
except Exception as e:  # authlib.jose.errors.InvalidClaimError
    wrong_nonce = type(e).__name__ + ": " + str(e)

header = token["id_token"].split(".")[0]
header = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))

print(json.dumps({
    "nonce_sent": sent.get("nonce", [None])[0] == request["nonce"],
    "id_token_alg": header["alg"],
    "token_keys": sorted(k for k in token if k != "expires_at"),
    "claims": {k: claims.get(k) for k in ("iss", "sub", "aud", "nonce")},
    "claims_have": sorted(k for k in ("at_hash", "auth_time", "exp", "iat") if k in claims),
    "userinfo": dict(userinfo),
    "wrong_nonce": wrong_nonce,
}))
