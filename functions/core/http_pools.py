"""urllib3 connection pools for the HTTP clients that skip requests (Stripe's, Identity
Toolkit's), with the one thing of the environment requests would have read for them: a proxy.

requests reads the environment's proxies on every call (``trust_env``); these clients read
them once, when their pool is built, for the one host they call, as requests reads them:
``HTTPS_PROXY`` / ``HTTP_PROXY`` by the URL's scheme, else ``ALL_PROXY``; ``NO_PROXY`` naming
the host bypasses it; a proxy's credentials are sent as ``Proxy-Authorization``. Nothing else
of the environment is read (no ``~/.netrc``, no cookies)."""

from __future__ import annotations

import threading
from typing import Any

import requests
import urllib3


def pool_for(url: str, *, maxsize: int, ca_certs: str | None = None) -> urllib3.PoolManager:
    """The connection pool for calls to ``url``'s host (``maxsize`` connections kept open,
    certificates checked against ``ca_certs``): through the proxy the environment names for
    it, if any, else direct. A proxy that is not a valid http:// or https:// URL is refused
    here, when the client is built, without quoting it (it may hold a password)."""
    options: dict[str, Any] = {"num_pools": 1, "maxsize": maxsize, "cert_reqs": "CERT_REQUIRED"}
    if ca_certs:
        options["ca_certs"] = ca_certs
    proxy = requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url))
    if not proxy:
        return urllib3.PoolManager(**options)
    try:
        proxy = requests.utils.prepend_scheme_if_needed(proxy, "http")  # type: ignore[no-untyped-call]
        scheme = urllib3.util.parse_url(proxy).scheme or ""
        username, password = requests.utils.get_auth_from_url(proxy)
        if scheme in ("http", "https"):
            if username:
                options["proxy_headers"] = urllib3.make_headers(
                    proxy_basic_auth=f"{username}:{password}"
                )
            return urllib3.ProxyManager(proxy, **options)
    except ValueError as exc:
        # urllib3's parse errors quote the URL whole, the proxy's password with it.
        raise ValueError(
            f"the proxy the environment names for {url} (HTTPS_PROXY, HTTP_PROXY or "
            f"ALL_PROXY) is not a valid URL ({type(exc).__name__})"
        ) from None
    raise ValueError(
        f"the proxy for {url} must be an http:// or https:// URL "
        f"(a {scheme}:// proxy is not supported)"
    )


class PoolsByHost:
    """urllib3's ``request`` and ``urlopen`` over one :func:`pool_for` pool per host (scheme,
    host and port), each built on its first call: for a client that calls more than one host,
    google-auth's ``AuthorizedHttp`` above all, whose credentials' token refresh (the metadata
    server, over plain http, or a token endpoint) goes through the same ``http`` as the API's
    calls. One pool for both would send the refresh through the proxy chosen for the API's
    host, ``NO_PROXY`` for the metadata server ignored and the token answered in clear to an
    ``HTTPS_PROXY``; requests chose each URL's proxy, and so does this."""

    def __init__(self, *, maxsize: int, ca_certs: str | None = None) -> None:
        self._maxsize = maxsize
        self._ca_certs = ca_certs
        self._pools: dict[tuple[str, str, int | None], urllib3.PoolManager] = {}
        self._lock = threading.Lock()

    def pool(self, url: str) -> urllib3.PoolManager:
        """The pool for ``url``'s host (built, and its proxy read, on the first call)."""
        parsed = urllib3.util.parse_url(url)
        key = (parsed.scheme or "", parsed.host or "", parsed.port)
        found = self._pools.get(key)  # every call after the host's first: no lock
        if found is None:
            with self._lock:
                found = self._pools.get(key)
                if found is None:
                    found = self._pools[key] = pool_for(
                        url, maxsize=self._maxsize, ca_certs=self._ca_certs
                    )
        return found

    def request(self, method: str, url: str, **kwargs: Any) -> urllib3.BaseHTTPResponse:
        return self.pool(url).request(method, url, **kwargs)

    def urlopen(self, method: str, url: str, **kwargs: Any) -> urllib3.BaseHTTPResponse:
        return self.pool(url).urlopen(method, url, **kwargs)
