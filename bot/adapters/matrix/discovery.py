"""Finding the homeserver from a server name, as Matrix clients do (``.well-known``).

``platforms.matrix.homeserver`` is either the client-server API's base URL
(``https://matrix.example.org``), used as it is, or a server name (``example.org``, the part
after the colon of a Matrix id), resolved through ``https://<name>/.well-known/matrix/client``
(the client-server specification's server discovery): its ``m.homeserver.base_url`` is used,
once ``/_matrix/client/versions`` answers there. No such file (404) means the server name is
the homeserver itself. A loopback name (``localhost:8008``, ``127.0.0.1:8008``) is asked over
plain HTTP, since a homeserver run for local use has no certificate.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

import aiohttp

from .errors import MatrixError

log = logging.getLogger(__name__)
DISCOVERY_TIMEOUT = 15.0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def server_name_url(server_name: str) -> str:
    """``https://<name>``, or ``http://`` for a loopback name."""
    host = server_name.rsplit(":", 1)[0] if not server_name.endswith("]") else server_name
    scheme = "http" if _is_loopback(host) else "https"
    return f"{scheme}://{server_name}"


async def _get_json(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    timeout = aiohttp.ClientTimeout(total=DISCOVERY_TIMEOUT)
    async with session.get(url, timeout=timeout, allow_redirects=True) as response:
        if response.status != 200:
            return response.status, None
        try:
            return 200, await response.json(content_type=None)
        except ValueError:
            return 200, None


async def resolve_homeserver(homeserver: str) -> str:
    """The client-server API base URL for ``homeserver`` (a URL, or a server name)."""
    if homeserver.startswith(("http://", "https://")):
        return homeserver.rstrip("/")
    origin = server_name_url(homeserver)
    well_known = f"{origin}/.well-known/matrix/client"
    try:
        async with aiohttp.ClientSession() as session:
            status, body = await _get_json(session, well_known)
            if status == 404:
                log.info("no %s: the homeserver is %s itself", well_known, origin)
                base = origin
            elif status != 200:
                raise MatrixError(f"{well_known} answered {status}")
            else:
                base = _base_url(well_known, body)
            status, versions = await _get_json(session, f"{base}/_matrix/client/versions")
    except aiohttp.ClientError as exc:
        raise MatrixError(f"discovering the homeserver of {homeserver}: {exc}") from None
    if status != 200 or not isinstance(versions, dict) or "versions" not in versions:
        raise MatrixError(
            f"{base} does not answer as a Matrix homeserver (/_matrix/client/versions); "
            "set platforms.matrix.homeserver to its client API URL"
        )
    log.info("Matrix homeserver of %s: %s", homeserver, base)
    return base


def _base_url(source: str, body: Any) -> str:
    homeserver = body.get("m.homeserver") if isinstance(body, dict) else None
    base = homeserver.get("base_url") if isinstance(homeserver, dict) else None
    if not isinstance(base, str) or not base.startswith(("http://", "https://")):
        raise MatrixError(f"{source} gives no m.homeserver.base_url (an http(s) URL)")
    return base.rstrip("/")
