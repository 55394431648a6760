"""``GET /oauth/jwks``: the public halves of the keys that sign or still verify ID tokens."""

from __future__ import annotations

from aiohttp import web

from service.api.errors import ErrorFamily, error_family
from service.api.keys import OAUTH2
from service.api.oauth2.cors import CorsPolicy, cors
from service.api.responses import json_response

routes = web.RouteTableDef()

# A new key signs as soon as it is made; a client that does not refetch on an unknown
# kid fails its ID tokens until its copy expires, so the copy lives a minute only.
JWKS_MAX_AGE = 60


@routes.get("/oauth/jwks")
@error_family(ErrorFamily.OAUTH)
@cors(CorsPolicy.ANY_ORIGIN)
async def jwks(request: web.Request) -> web.Response:
    """RFC 7517 JWK Set: kty, kid, use, alg and the public parameters, nothing private."""
    return json_response(
        request.app[OAUTH2].keys.jwks(),
        headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE}"},
    )
