"""The library floor: a function that imports only what every billing function must
(functions-framework, stripe, google-cloud-firestore and pydantic) and answers 200 (every
function the cold-start benchmark measures; list-plans, which it does not, reads Stripe
alone and loads no Firestore client, so its floor would have no Firestore). A
function's cold start over this one's is what the product adds beyond its indispensable
libraries; this one's over hello world is what those libraries cost to load.

It imports the names every function imports from them, not only the packages: pydantic 2
and stripe load their modules on first use of a name (a module ``__getattr__``), so
``import pydantic`` alone loads almost none of pydantic, and no function can define a model
without ``BaseModel`` and ``Field`` (which load pydantic's field and type machinery) nor call
Stripe without ``StripeClient``. A floor of bare ``import`` lines under-read by ~70-100 ms of
CPU, about a tenth of itself, and every ratio to it read that much high (both are measured,
side by side, in the cold-start steps of ``make bench``)."""

import flask
import functions_framework
from google.cloud.firestore import Client
from pydantic import BaseModel, Field
from stripe import StripeClient

LOADED = (BaseModel, Field, StripeClient, Client)


@functions_framework.http
def libraries(request: flask.Request) -> str:
    return "ok"
