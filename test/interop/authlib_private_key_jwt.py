"""Authlib's private_key_jwt (RFC 7523) against Tessera: with its default audience (the token
endpoint URL), which Tessera refuses, then with the issuer identifier as the audience."""
import json
import os

from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT

url = os.environ['TESSERA_URL']
client_id = os.environ['CLIENT_ID']
key = json.loads(os.environ['PRIVATE_JWK'])
token_endpoint = url + '/token'
out = {}

default = OAuth2Session(client_id, key, token_endpoint_auth_method='private_key_jwt')
default.register_client_auth_method(PrivateKeyJWT())
try:
    default.fetch_token(token_endpoint, grant_type='client_credentials', scope='read')
    out['default_audience'] = 'accepted'
except Exception as e:  # authlib raises OAuthError with .error
    out['default_audience'] = getattr(e, 'error', type(e).__name__)

# PrivateKeyJWT's token_endpoint argument is what it puts in aud: the issuer, as Tessera requires.
issuer = OAuth2Session(client_id, key, token_endpoint_auth_method='private_key_jwt')
issuer.register_client_auth_method(PrivateKeyJWT(token_endpoint=url))
token = issuer.fetch_token(token_endpoint, grant_type='client_credentials', scope='read')
out['token_type'] = token['token_type']
out['scope'] = token.get('scope')
print(json.dumps(out))
