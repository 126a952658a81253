"""The stand-in's one test clock (objects.TEST_CLOCK): read-only; it moves with
``POST /_standin/clock/advance``."""

from __future__ import annotations

import time
from typing import Any

from stripe.params.test_helpers import TestClockRetrieveParams

from devstack.stripe_standin import objects
from devstack.stripe_standin.api_errors import resource_missing
from devstack.stripe_standin.routing import ApiContext, route
from devstack.stripe_standin.supports import Supports

JSONDict = dict[str, Any]

_CREATED = int(time.time())


def retrieve(ctx: ApiContext, path: dict[str, str], params: JSONDict) -> JSONDict:
    if path["test_clock"] != objects.TEST_CLOCK:
        raise resource_missing("test_clock", path["test_clock"])
    clock = objects.test_clock(ctx.state.now(), _CREATED)
    return ctx.render(clock, params)


ROUTES = [
    # change-plan reads Stripe's "now" for a customer on a test clock (its frozen_time).
    route(
        "GET",
        "/v1/test_helpers/test_clocks/{test_clock}",
        retrieve,
        TestClockRetrieveParams,
        Supports(),
    ),
]
