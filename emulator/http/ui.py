"""The dashboard at /__emulator/ui/, and the guard that keeps web pages off the admin API.

The page is static (HTML, CSS and JavaScript from emulator/http/ui/, no build step, nothing from
the network) and draws what the admin API returns, polling it; every change it makes is an
admin call.

Who may call the admin API: programs (the pytest plugin, tests, curl) send neither `Origin` nor
`Sec-Fetch-*` and are let through as before. A request that carries either comes from a
browser, and a page on any website can make a browser send one; so such a request must
  - name a host the emulator can be reached at without DNS tricks (an IP address, `localhost`,
    the configured host or public URL): a rebound name gets 403;
  - come from the emulator's own origin (`Origin`, `Sec-Fetch-Site`): anything else gets 403;
  - if it changes state (not GET or HEAD), carry `X-Wanform-Token` equal to the per-process
    token, which only the dashboard page receives: another origin cannot read that page, and
    cannot send the header without a CORS preflight, which the emulator never grants.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from importlib import resources
from urllib.parse import urlsplit

from aiohttp import web

from wanform.emulator.errors import ErrorReply
from wanform.emulator.http.context import EMULATOR
from wanform.spec.emulator.wire import ADMIN_PREFIX, TOKEN_HEADER, UI

TOKEN = web.AppKey("wanform.admin_token", str)
READS = frozenset({"GET", "HEAD"})
ASSETS = {
    "dashboard.js": "application/javascript",
    "dashboard.css": "text/css",
}
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _asset(name: str) -> str:
    return resources.files("wanform.emulator.http").joinpath("ui", name).read_text(encoding="utf-8")


def _forbidden(why: str) -> ErrorReply:
    return ErrorReply(403, "Forbidden", f"the admin API refused a browser request: {why}")


def _host_allowed(request: web.Request) -> bool:
    """Whether the Host header names this emulator without a DNS name that could be rebound."""
    host = urlsplit(f"//{request.host}").hostname or ""
    config = request.app[EMULATOR].config
    named = {"localhost", config.host.lower()}
    if config.public_url:
        named.add((urlsplit(config.public_url).hostname or "").lower())
    if host.lower() in named or host.lower().endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _own_origins(request: web.Request) -> set[str]:
    origins = {f"{request.scheme}://{request.host}"}
    public = request.app[EMULATOR].config.public_url
    if public:
        parts = urlsplit(public)
        origins.add(f"{parts.scheme}://{parts.netloc}")
    return origins


def check(request: web.Request) -> None:
    """Raise 403 for an admin request from a browser that is not the dashboard's own."""
    origin = request.headers.get("Origin")
    site = request.headers.get("Sec-Fetch-Site")
    if origin is None and site is None:
        return  # a program, not a browser: as before
    if not _host_allowed(request):
        raise _forbidden(f"host {request.host!r} is not an address of this emulator")
    if origin is not None and origin not in _own_origins(request):
        raise _forbidden(f"origin {origin!r} is not this emulator's")
    if site is not None and site not in ("same-origin", "none"):
        raise _forbidden(f"the request comes from a {site} page")
    if request.method in READS:
        return
    given = request.headers.get(TOKEN_HEADER, "")
    if not hmac.compare_digest(given.encode(), request.app[TOKEN].encode()):
        raise _forbidden(f"no valid {TOKEN_HEADER} header (the dashboard sends it)")


async def page(request: web.Request) -> web.Response:
    """The dashboard, with the token, the admin prefix and the token's header in meta tags for
    its script."""
    html = (
        _asset("index.html")
        .replace("__WANFORM_TOKEN__", request.app[TOKEN])
        .replace("__WANFORM_ADMIN_PREFIX__", ADMIN_PREFIX)
        .replace("__WANFORM_TOKEN_HEADER__", TOKEN_HEADER)
    )
    return web.Response(text=html, content_type="text/html", headers=HEADERS)


async def asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in ASSETS:
        raise ErrorReply(404, "NotFound", "no such dashboard file")
    return web.Response(text=_asset(name), content_type=ASSETS[name], headers=HEADERS)


async def to_page(request: web.Request) -> web.Response:
    raise web.HTTPFound(UI)


def add_routes(app: web.Application) -> None:
    app[TOKEN] = new_token()
    app.router.add_get(UI, page)
    app.router.add_get(UI.removesuffix("/"), to_page)
    app.router.add_get(UI + "{name}", asset)
