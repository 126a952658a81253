"""A second reference: a function that only imports the client libraries a billing function
needs (settings, Stripe, Firestore, Firebase Admin) and answers 200. The gap between it and
hello world is what those libraries cost to load, whatever the code around them does."""

import firebase_admin.auth
import flask
import functions_framework
import pydantic_settings
import pythonjsonlogger.json
import stripe
from google.cloud import firestore

LOADED = (firebase_admin.auth, pydantic_settings, pythonjsonlogger.json, stripe, firestore)


@functions_framework.http
def libraries(request: flask.Request) -> str:
    return "ok"
