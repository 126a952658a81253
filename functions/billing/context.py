"""What an operation receives, and the bases of its request and response models.

Operations are plain functions ``op(ctx, body) -> ResponseModel`` that know nothing of HTTP:
the browser API, the Stripe webhook and the command line each build a :class:`Context` and
call them. A context may have no signed-in caller (webhooks, commands); an operation that acts
for a user reads :attr:`Context.user`, which refuses to run without one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from billing.errors import MISSING_TOKEN, Unauthenticated

if TYPE_CHECKING:
    from billing.auth import Caller
    from billing.runtime import Runtime


class RequestModel(BaseModel):
    """Base for request bodies: unknown fields are an error, types are not coerced.

    Strings are taken as sent, never trimmed: a padded id is malformed (400), and a length
    limit counts exactly what is stored, as openapi.yaml says.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(frozen=True)


@dataclass(frozen=True)
class Context:
    """This instance's clients, the request's id, and the verified caller when there is one."""

    runtime: Runtime
    request_id: str
    caller: Caller | None = None

    @property
    def user(self) -> Caller:
        if self.caller is None:
            raise Unauthenticated(code=MISSING_TOKEN)
        return self.caller


type Operation[Req: RequestModel] = Callable[[Context, Req], ResponseModel]
