"""The library floor: a function that imports only what every billing function must
(functions-framework, stripe, google-cloud-firestore and pydantic) and answers 200. A
function's cold start over this one's is what the product adds beyond its indispensable
libraries; this one's over hello world is what those libraries cost to load."""

import flask
import functions_framework
import pydantic
import stripe
from google.cloud import firestore

LOADED = (pydantic, stripe, firestore)


@functions_framework.http
def libraries(request: flask.Request) -> str:
    return "ok"
