"""Apache's mod_auth_openidc (an OpenID Certified relying party) in front of a page, in Chromium.

The test starts an Apache of its own on a free loopback port, with its own configuration
and directories (never the system's service), and removes it all at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from tests.support.browsers import CHROMIUM, chromium, sign_in
from tests.support.http import change_metadata, create_over_http
from tests.support.processes import Stack, free_port, stop, wait_for_port

APACHE = shutil.which("apache2", path="/usr/sbin:/usr/bin")
MODULES = Path("/usr/lib/apache2/modules")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or APACHE is None or not (MODULES / "mod_auth_openidc.so").is_file(),
    reason="needs Debian's chromium, apache2 and libapache2-mod-auth-openidc (.ci/run)",
)

# The protected page shows what mod_auth_openidc tells the application (server-side includes).
PAGE = """<!doctype html><title>Protected</title>
<p id="user"><!--#echo var="REMOTE_USER" --></p>
<p id="email"><!--#echo var="OIDC_CLAIM_email" --></p>
"""


def apache_config(root: Path, port: int, issuer: str, app: dict[str, Any]) -> str:
    """A whole httpd.conf: a page under /protected/ that only a signed-in user sees."""
    modules = ["mpm_event", "authn_core", "authz_core", "authz_user", "include", "auth_openidc"]
    loads = "\n".join(f"LoadModule {name}_module {MODULES}/mod_{name}.so" for name in modules)
    return f"""\
ServerRoot "{root}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{root}/httpd.pid"
DefaultRuntimeDir "{root}"
ErrorLog "{root}/error.log"
LogLevel warn auth_openidc:info
# Ignored unless started as root, when the workers must not stay root.
User nobody
Group nogroup
{loads}
DocumentRoot "{root}/htdocs"
<Directory "{root}/htdocs">
    Options +Includes
    Require all granted
</Directory>

OIDCProviderMetadataURL {issuer}/.well-known/openid-configuration
OIDCClientID {app["clientId"]}
OIDCClientSecret {app["clientSecret"]}
OIDCRedirectURI http://127.0.0.1:{port}/protected/redirect_uri
OIDCCryptoPassphrase {secrets.token_urlsafe(32)}
OIDCScope "openid profile email"
OIDCPKCEMethod S256
OIDCRemoteUserClaim preferred_username
<Location /protected/>
    AuthType openid-connect
    Require valid-user
    ForceType text/html
    SetOutputFilter INCLUDES
</Location>
"""


def lay_out(port: int, issuer: str, app: dict[str, Any]) -> Path:
    """A new directory with the configuration and the pages; return it."""
    root = Path(tempfile.mkdtemp(prefix="oauth-apps-apache-"))
    root.chmod(0o755)  # readable by the workers' user when started as root
    (root / "htdocs" / "protected").mkdir(parents=True)
    (root / "htdocs" / "protected" / "index.html").write_text(PAGE)
    (root / "htdocs" / "signed-out.html").write_text("<!doctype html><p>Signed out</p>")
    (root / "httpd.conf").write_text(apache_config(root, port, issuer, app))
    return root


@contextlib.asynccontextmanager
async def private_apache(port: int, issuer: str, app: dict[str, Any]) -> AsyncIterator[Path]:
    """Run Apache in the foreground on ``port``; yield its error log; stop it and remove it all."""
    assert APACHE is not None
    root = lay_out(port, issuer, app)
    try:
        process = await asyncio.create_subprocess_exec(
            APACHE, "-f", str(root / "httpd.conf"), "-DFOREGROUND", stdin=asyncio.subprocess.DEVNULL
        )
        try:
            await wait_for_port(port, process)
            yield root / "error.log"
        finally:
            assert await stop(process) == 0
    finally:
        shutil.rmtree(root)


async def test_oidcc_server_and_rp_initiated_logout_with_mod_auth_openidc(
    stack: Stack, admin: dict[str, str]
) -> None:
    """Sign in through Apache (code, PKCE S256, nonce), see the page as the user, sign out."""
    base = await stack.serve("--no-relay")
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    [app] = await create_over_http(
        base, admin, 1, redirect_uri=f"{site}/protected/redirect_uri", name="Apache"
    )
    signed_out = f"{site}/signed-out.html"
    await change_metadata(base, admin, app["clientId"], post_logout_redirect_uris=[signed_out])
    async with private_apache(port, base, app) as error_log, chromium() as browser:
        page = await browser.new_page()
        sent: list[str] = []
        page.on("request", lambda request: sent.append(request.url))
        try:
            await page.goto(f"{site}/protected/index.html")
            await page.wait_for_url(lambda url: url.startswith(f"{base}/oauth/authorize"))
            await sign_in(page)
            await page.get_by_role("button", name="Allow").click()
            await page.wait_for_url(f"{site}/protected/index.html")
            assert await page.inner_text("#user") == "math.bar"
            assert await page.inner_text("#email") == "math.bar@example.test"
            # mod_auth_openidc's logout: its session, then ours at end_session_endpoint
            # with id_token_hint, which returns the browser to the registered page.
            await page.goto(f"{site}/protected/redirect_uri?logout={quote(signed_out, safe='')}")
            await page.wait_for_url(signed_out)
            await page.goto(f"{site}/protected/index.html")
            await page.wait_for_url(lambda url: url.startswith(f"{base}/oauth/authorize"))
            assert await page.get_by_label("Password").is_visible()  # asked to sign in again
            [authorize, *_] = [url for url in sent if url.startswith(f"{base}/oauth/authorize?")]
            [logout] = [url for url in sent if url.startswith(f"{base}/oauth/logout")]
        except Exception as error:  # what Apache said is the useful part
            raise AssertionError(f"{error}\n{error_log.read_text()[-3000:]}") from error
    authorization = parse_qs(urlsplit(authorize).query)
    assert authorization["code_challenge_method"] == ["S256"] and authorization["nonce"]
    assert authorization["scope"] == ["openid profile email"]
    ending = parse_qs(urlsplit(logout).query)
    assert ending["id_token_hint"] and ending["post_logout_redirect_uri"] == [signed_out]
