"""Cloud Functions entry points: one per deployed function, and nothing else."""

import flask
import functions_framework

from billing import endpoints

endpoints.boot()


@functions_framework.http
def create_customer(request: flask.Request) -> flask.Response:
    return endpoints.create_customer(request)
