// panva's openid-client as a relying party of a running serve, driven by
// tests/e2e/test_oidc_relying_parties.py over stdin/stdout, one JSON object a line:
// it prints {"authorization_url"}, reads the callback URL the user's browser landed
// on, then prints what it validated and fetched.
//
//   node rp.mjs ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI
import { createInterface } from "node:readline";
import * as client from "openid-client";

const [issuer, clientId, clientSecret, redirectUri] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

const config = await client.discovery(
  new URL(issuer),
  clientId,
  undefined,
  client.ClientSecretBasic(clientSecret),
  // Plain HTTP on loopback; the ID token's signature checked against jwks_uri.
  { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] },
);
const verifier = client.randomPKCECodeVerifier();
const nonce = client.randomNonce();
const state = client.randomState();
const authorizationUrl = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: "openid profile email",
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: "S256",
  nonce,
  state,
});
console.log(JSON.stringify({ authorization_url: authorizationUrl.href }));

const callback = (await lines.next()).value;
const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
  pkceCodeVerifier: verifier,
  expectedNonce: nonce,
  expectedState: state,
  idTokenExpected: true,
});
const claims = tokens.claims();
const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
console.log(
  JSON.stringify({
    issuer: config.serverMetadata().issuer,
    claims,
    userinfo,
    refreshed_claims: refreshed.claims(),
    refresh_token_rotated: refreshed.refresh_token !== tokens.refresh_token,
    jwks_fetched: client.getJwksCache(config) !== undefined,
  }),
);
