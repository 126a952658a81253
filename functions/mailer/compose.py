"""One notification -> one multipart/alternative mail (plain text, then HTML).

Templates live in ``templates/`` (Jinja, autoescaped for HTML): one ``.txt`` and one ``.html``
per notification type, on a shared layout. They are rendered from ``templates_compiled/``, the
Python modules Jinja compiles them into (``make mail-templates``; a test fails when the two
differ), so an instance's first mail loads code instead of parsing and compiling templates.
Addresses go through ``email.headerregistry``, so a name can be anything typed and still
never adds a header or a recipient."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from babel import Locale
from jinja2 import (
    BaseLoader,
    Environment,
    ModuleLoader,
    StrictUndefined,
    Template,
    select_autoescape,
)

from core.settings import EMAIL_ADDRESS, ConfigError
from mailer import views
from mailer.config import MailSettings
from mailer.contract import Notification, Unsendable

TEMPLATES = Path(__file__).parent / "templates"
COMPILED = Path(__file__).parent / "templates_compiled"


def environment(loader: BaseLoader) -> Environment:
    """The templates' environment: the same options compile them (tools.mail_templates) and
    render them."""
    return Environment(
        loader=loader,
        autoescape=select_autoescape(
            enabled_extensions=("html",), disabled_extensions=("txt",), default=True
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


SUBJECTS: dict[str, Callable[[views.MailView], str]] = {
    "payment_succeeded": lambda v: f"Receipt for your {v.product} payment of {v.amount_paid}",
    "payment_failed": lambda v: f"Your payment of {v.amount_due} for {v.product} failed",
    "payment_action_required": lambda v: (
        f"Please confirm your payment of {v.amount_due} for {v.product}"
    ),
    "subscription_canceled": lambda v: (
        f"Your {v.product} subscription has ended"
        if v.ended
        else f"Your {v.product} subscription is canceled"
    ),
    "trial_will_end": lambda v: (
        f"Your {v.product} trial ends on {v.trial_ends_on}"
        if v.trial_ends_on
        else f"Your {v.product} trial ends soon"
    ),
}


@dataclass(frozen=True)
class Brand:
    """Who sends, and where mails send the reader: configuration, never message data."""

    product_name: str
    address: str
    display_name: str
    reply_to: str | None
    support_email: str
    app_url: str
    billing_url: str
    locale: str
    links: views.LinkPolicy

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]

    @classmethod
    def from_settings(cls, settings: MailSettings) -> Brand:
        mail_from, product, app_url = settings.mail_from, settings.product_name, settings.app_url
        try:
            Locale.parse(settings.mail_locale)
        except (ValueError, LookupError):
            raise ConfigError(f"MAIL_LOCALE: {settings.mail_locale!r} is not a locale") from None
        return cls(
            product_name=product,
            address=mail_from,
            display_name=settings.mail_from_name or product,
            reply_to=settings.mail_reply_to,
            support_email=settings.support_email or settings.mail_reply_to or mail_from,
            app_url=app_url,
            billing_url=settings.billing_url or app_url,
            locale=settings.mail_locale,
            links=views.LinkPolicy.of(
                [app_url, settings.billing_url or app_url], local=not settings.k_service
            ),
        )


def message_id(notification_id: str, domain: str) -> str:
    """The same Message-ID for every send of one notification, so a receiver sees a repeat."""
    digest = hashlib.sha256(notification_id.encode()).hexdigest()[:32]
    return f"<{digest}.notification@{domain}>"


def recipient(notification: Notification) -> str:
    """The address to send to, or :class:`Unsendable` naming why there is none."""
    if notification.email is None:
        raise Unsendable("no_email", "the customer has no email address")
    local, at, domain = notification.email.strip().rpartition("@")
    try:
        # An internationalised domain is sent in its ASCII form; a non-ASCII local part would
        # need SMTPUTF8, which relays do not all offer.
        address = f"{local}{at}{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        address = notification.email
    if not EMAIL_ADDRESS.match(address):
        raise Unsendable("bad_email", "the customer's email is not an address mail can go to")
    return address


class SerialModuleLoader(ModuleLoader):
    """jinja2's ``ModuleLoader``, loading one template at a time.

    Its ``load`` imports a compiled template's module and then takes it out of ``sys.modules``
    (jinja2/loaders.py). Two threads loading the same template at once race on that entry:
    the slower import's own ``sys.modules.pop`` raises ``KeyError`` (ten concurrent deliveries
    of one notification, tests/integration/test_email.py, met it). A template loaded once is
    served from the environment's cache, so only an instance's first loads wait. Reentrant:
    a template's render loads its layout (``extends``) through the same loader."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._lock = threading.RLock()

    def load(
        self,
        environment: Environment,
        name: str,
        globals: MutableMapping[str, object] | None = None,
    ) -> Template:
        with self._lock:
            return super().load(environment, name, globals)


class Composer:
    def __init__(self, brand: Brand, loader: BaseLoader | None = None) -> None:
        """``loader``: where the templates come from; the compiled ones by default (a
        ``FileSystemLoader(TEMPLATES)`` renders the sources, as the drift test does)."""
        self.brand = brand
        self.language = Locale.parse(brand.locale).language
        self._env = environment(loader or SerialModuleLoader(COMPILED))

    def compose(self, notification: Notification, to: str, now: datetime) -> EmailMessage:
        view = views.build(
            notification,
            default_product=self.brand.product_name,
            locale=self.brand.locale,
            links=self.brand.links,
        )
        subject = ("[Test mode] " if view.test_mode else "") + SUBJECTS[view.type](view)
        context = {
            "v": view,
            "brand": self.brand,
            "subject": subject,
            "recipient": to,
            "lang": self.language,
        }
        text = self._env.get_template(f"{view.type}.txt").render(context)
        html = self._env.get_template(f"{view.type}.html").render(context)

        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = Address(self.brand.display_name, addr_spec=self.brand.address)
        message["To"] = Address(view.name or "", addr_spec=to)
        if self.brand.reply_to:
            message["Reply-To"] = Address(addr_spec=self.brand.reply_to)
        message["Date"] = format_datetime(now)
        message["Message-ID"] = message_id(notification.notification_id, self.brand.domain)
        # RFC 3834: no vacation auto-replies to a billing robot.
        message["Auto-Submitted"] = "auto-generated"
        message["X-Auto-Response-Suppress"] = "All"
        # Quoted-printable keeps both parts legible in a raw .eml (base64 would not).
        message.set_content(text, cte="quoted-printable")
        message.add_alternative(html, subtype="html", cte="quoted-printable")
        return message
