"""An OAuth 1.0a provider that no one here wrote: oauthlib's RFC 5849 endpoints
(RequestTokenEndpoint, AuthorizationEndpoint, AccessTokenEndpoint, ResourceEndpoint) with an
in-memory RequestValidator, for test/client-oauth1.test.ts and the README's OAuth 1.0a example.

Listens on 127.0.0.1, on a port the system picks, and prints {"port": N} once it does.
  POST /initiate       temporary credentials (RFC 5849 §2.1)
  GET  /authorize      the resource owner approves at once: 302 to the callback with oauth_verifier (§2.2)
  POST /token          token credentials (§2.3)
  *    any other path  a protected resource (§3): 200 with JSON saying what oauthlib verified, else 401

The URI oauthlib rebuilds the signature base string from is http:// + the Host header + the
request target, as a server behind no proxy sees them.

Environment: CLIENTS, a JSON object {client key: {"secret": ..., "rsa_public_key": PEM}}, and
CALLBACK_URI, the callback the clients registered."""
import hmac
import json
import os
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qsl, urlsplit

from oauthlib.oauth1 import (
    AccessTokenEndpoint, AuthorizationEndpoint, RequestTokenEndpoint, RequestValidator, ResourceEndpoint,
)
from oauthlib.oauth1.rfc5849.errors import OAuth1Error

CLIENTS = json.loads(os.environ["CLIENTS"])
# What an unknown client key is checked against, so that it takes as long as a known one.
DUMMY = {"secret": "dummy-secret", "rsa_public_key": next(iter(CLIENTS.values()))["rsa_public_key"]}


class Validator(RequestValidator):
    # Plain http, on loopback only: oauthlib's RFC 5849 endpoints refuse it unless told (there is
    # no OAUTHLIB_INSECURE_TRANSPORT for OAuth 1). PLAINTEXT, which sends the secrets, needs it too.
    enforce_ssl = False
    # A realm the client may ask for in the Authorization header (oauthlib refuses any other).
    realms = ["photos"]
    dummy_client = "dummyclient0000000000000"
    dummy_request_token = "dummyrequesttoken0000000"
    dummy_access_token = "dummyaccesstoken00000000"

    def __init__(self):
        super().__init__()
        self.request_tokens = {}
        self.access_tokens = {}
        self.nonces = set()

    # Clients.
    def validate_client_key(self, client_key, request):
        return client_key in CLIENTS

    def get_client_secret(self, client_key, request):
        return CLIENTS.get(client_key, DUMMY)["secret"]

    def get_rsa_key(self, client_key, request):
        return CLIENTS.get(client_key, DUMMY)["rsa_public_key"]

    def validate_redirect_uri(self, client_key, redirect_uri, request):
        return redirect_uri in (os.environ["CALLBACK_URI"], "oob")

    def get_default_realms(self, client_key, request):
        return []

    def validate_requested_realms(self, client_key, realms, request):
        return True

    def validate_realms(self, client_key, token, request, uri=None, realms=None):
        return True

    def get_realms(self, token, request):
        return []

    # RFC 5849 §3.3: a nonce is used once per timestamp, client and token; a replay is refused.
    def validate_timestamp_and_nonce(self, client_key, timestamp, nonce, request, request_token=None, access_token=None):
        key = (client_key, timestamp, nonce, request_token or access_token)
        if key in self.nonces:
            return False
        self.nonces.add(key)
        return True

    # Temporary credentials and the verifier.
    def save_request_token(self, token, request):
        self.request_tokens[token["oauth_token"]] = {
            "client": request.client_key, "secret": token["oauth_token_secret"], "callback": request.redirect_uri}

    def verify_request_token(self, token, request):
        return token in self.request_tokens

    def get_redirect_uri(self, token, request):
        return self.request_tokens[token]["callback"]

    def save_verifier(self, token, verifier, request):
        self.request_tokens[token]["verifier"] = verifier["oauth_verifier"]

    def validate_request_token(self, client_key, token, request):
        entry = self.request_tokens.get(token)
        return entry is not None and entry["client"] == client_key

    def get_request_token_secret(self, client_key, token, request):
        return self.request_tokens.get(token, {"secret": "dummy-secret"})["secret"]

    def validate_verifier(self, client_key, token, verifier, request):
        expected = self.request_tokens.get(token, {}).get("verifier", "")
        return hmac.compare_digest(expected, verifier)

    def invalidate_request_token(self, client_key, request_token, request):
        self.request_tokens.pop(request_token, None)

    # Token credentials.
    def save_access_token(self, token, request):
        self.access_tokens[token["oauth_token"]] = {"client": request.client_key, "secret": token["oauth_token_secret"]}

    def validate_access_token(self, client_key, token, request):
        entry = self.access_tokens.get(token)
        return entry is not None and entry["client"] == client_key

    def get_access_token_secret(self, client_key, token, request):
        return self.access_tokens.get(token, {"secret": "dummy-secret"})["secret"]


validator = Validator()
request_token_endpoint = RequestTokenEndpoint(validator)
authorization_endpoint = AuthorizationEndpoint(validator)
access_token_endpoint = AccessTokenEndpoint(validator)
resource_endpoint = ResourceEndpoint(validator)


def where_oauth_parameters_were(headers, query, body):
    """Where the request put its oauth_ parameters: "header", "query" and/or "body"."""
    found = []
    if headers.get("Authorization", "").startswith("OAuth "):
        found.append("header")
    if any(name.startswith("oauth_") for name, _ in parse_qsl(query, keep_blank_values=True)):
        found.append("query")
    if "application/x-www-form-urlencoded" in headers.get("Content-Type", "") and \
            any(name.startswith("oauth_") for name, _ in parse_qsl(body, keep_blank_values=True)):
        found.append("body")
    return found


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):
        pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        uri = "http://" + self.headers["Host"] + self.path
        headers = dict(self.headers.items())
        target = urlsplit(self.path)
        try:
            if target.path == "/initiate":
                self.answer(*request_token_endpoint.create_request_token_response(uri, self.command, body, headers))
            elif target.path == "/authorize":
                self.answer(*authorization_endpoint.create_authorization_response(uri, self.command, body, headers))
            elif target.path == "/token":
                self.answer(*access_token_endpoint.create_access_token_response(uri, self.command, body, headers))
            else:
                self.resource(uri, body, headers, target)
        except OAuth1Error as e:
            self.answer({"Content-Type": "application/x-www-form-urlencoded"}, e.urlencoded, e.status_code)

    def resource(self, uri, body, headers, target):
        valid, request = resource_endpoint.validate_protected_resource_request(uri, self.command, body, headers)
        if not valid:
            log = request.validator_log if request is not None else None
            return self.answer({"Content-Type": "application/json"}, json.dumps({"valid": False, "log": log}), 401)
        self.answer({"Content-Type": "application/json"}, json.dumps({
            "valid": True,
            "method": self.command,
            "path": target.path,
            "client_key": request.client_key,
            "token": request.resource_owner_key,
            "signature_method": request.signature_method,
            "oauth_in": where_oauth_parameters_were(self.headers, target.query, body),
            # The request's own parameters (query and form body), as oauthlib decoded and signed them.
            "params": sorted([k, v] for k, v in request.params if not k.startswith("oauth_")),
        }), 200)

    def answer(self, headers, body, status):
        data = (body or "").encode("utf-8")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


server = HTTPServer(("127.0.0.1", 0), Handler)
print(json.dumps({"port": server.server_address[1]}), flush=True)
server.serve_forever()
