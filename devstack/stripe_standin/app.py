"""The WSGI app: a :class:`Standin`'s ``/v1`` API plus its ``/_standin`` control API."""

from __future__ import annotations

from flask import Flask, Response, request

from devstack.stripe_standin import ids
from devstack.stripe_standin.api_errors import unrecognized_url
from devstack.stripe_standin.control import control_blueprint
from devstack.stripe_standin.hosted_pages import hosted_blueprint
from devstack.stripe_standin.options import StandinConfig
from devstack.stripe_standin.portal_pages import portal_blueprint
from devstack.stripe_standin.server import DisconnectMiddleware, Standin, _error_response


def create_app(config: StandinConfig | None = None, standin: Standin | None = None) -> Flask:
    """The WSGI app; ``app.extensions["stripe_standin"]`` is the ``Standin`` behind it."""
    standin = standin or Standin(config)
    app = Flask("stripe_standin")
    app.extensions["stripe_standin"] = standin

    def api(rest: str) -> Response:
        del rest
        return standin.handle(request)

    def unknown(rest: str = "") -> Response:
        del rest
        return _error_response(unrecognized_url(request.method, request.path), ids.new_id("req"))

    app.add_url_rule("/v1/<path:rest>", "api", api, methods=["GET", "POST", "DELETE"])
    app.register_blueprint(control_blueprint(standin))
    app.register_blueprint(hosted_blueprint(standin))
    app.register_blueprint(portal_blueprint(standin))
    app.add_url_rule("/", "root", unknown, methods=["GET", "POST", "DELETE"])
    app.add_url_rule("/<path:rest>", "unknown", unknown, methods=["GET", "POST", "DELETE"])
    app.wsgi_app = DisconnectMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    return app
