/** The public JWK that signed `token`, from the issuer's JWKS (which also holds the RS256 key of ID Tokens). */
export async function signingJwk(url, token) {
  const { kid } = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString());
  const jwk = (await (await fetch(`${url}/jwks.json`)).json()).keys.find((k) => k.kid === kid);
  if (!jwk) throw new Error(`no key ${kid} in ${url}/jwks.json`);
  return jwk;
}
