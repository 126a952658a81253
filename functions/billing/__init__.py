"""Stripe subscription billing as Google Cloud Functions: the package map.

``main.py`` (one level up) holds one entry point per row of :mod:`app.registry`; ``app``
wires them, ``core`` is shared with the email function (``mailer``), and this package is
billing itself. Its rooms, top to bottom (a module imports only from rooms below it;
``.importlinter`` holds the rule and ``make lint`` enforces it):

Package map (kept true by tests/unit/billing/test_package_map.py):

- ``http/``: the only code that knows Flask. How each kind of function answers.
    - ``shell``: what every HTTP function shares: request id, log context, one error shape.
    - ``browser``: the browser API's policy: CORS, ID token, JSON body, request model.
    - ``stripe_webhook``: the Stripe webhook's policy: raw body, signature, Stripe's answers.
    - ``job``: the scheduled jobs' policy (Cloud Scheduler only).
    - ``public_read``: a public read's policy: GET, no sign-in, cacheable (list-plans).
    - ``body``: request bodies read with bounded memory and time.
- ``operations/``: what the registry's browser and job functions do; no HTTP.
    - ``customers``: create_customer, one Stripe customer per user.
    - ``subscriptions``: create a subscription, cancel it at period end or resume it.
    - ``subscription_status``: retrieve a subscription, refreshing the entitlement if it differs.
    - ``payment_methods``: retrieve a card, set up a new one, make it the default.
    - ``invoices``: retry an open invoice with a new card, list invoices.
    - ``plan_changes``: preview and change a subscription's price.
    - ``hosted_pages``: Stripe Checkout and billing portal sessions.
    - ``pricing``: list_plans, the offered plans from Stripe's catalog (public, cached).
    - ``reconcile``: re-sync every customer's entitlement from Stripe (job and CLI).
    - ``usage``: get_usage, the caller's usage and limits per meter this period.
    - ``_ownership``: every id a caller sends belongs to the caller's customer.
    - ``_cards``: owning a saved card and making it the default.
    - ``_one_subscription``: a customer never has two subscriptions that could both be paid.
    - ``_plan_items``: a plan's subscription items, its licensed and metered prices together.
    - ``_schedules``: downgrades at period end (DOWNGRADE_POLICY) with subscription schedules.
    - ``_promotions``: promotion codes found and checked before Stripe applies them.
    - ``_views``: frontend-friendly views of Stripe objects.
- ``entitlements/``: Stripe event -> sync -> entitlement document -> notification.
    - ``events``: the webhook's event processing: claim, sync, record, publish.
    - ``sync``: ``entitlements/{uid}`` rebuilt from what Stripe says now.
    - ``notifications``: what an event tells the customer, published once.
    - ``thin_events``: a thin event (an event destination's reference-only payload) made whole.
    - ``id_token``: the entitlement as the ``billing`` custom claim in the user's ID token.
- ``usage/``: metered usage, from the usage topic to Stripe's meters.
    - ``contract``: the usage message (schemas/usage.v1.json) as the function reads it.
    - ``metering``: each usage recorded in Stripe as one meter event, exactly once.
    - ``periods``: the period a subject's usage counts in, its limits and counts (one file with
      the helper's billing_usage.periods).
    - ``drift``: quota counts against Stripe's meter summaries (reconcile --usage-drift).
    - ``plans``: each plan's quotas from the catalog, and the free plan's.
- ``runtime``: the one place that builds clients, lazily, once per instance.
- ``state/``: the Firestore collections billing owns.
    - ``customers``: uid <-> Stripe customer, one per user, ever.
    - ``checkout_locks``: one request at a time opens something payable for a customer.
    - ``metered_usage``: the metering ledger: each usage id claimed, recorded, held or refused.
- ``identity_toolkit``: Firebase Auth user management (custom claims) over REST.
- ``job_auth``: who may start a job: the scheduler's OIDC token, checked as in production.
- ``stripe_api/``: talking to Stripe.
    - ``client``: the shared Stripe client: timeouts, retries, counted calls.
    - ``raw``: calls answered as the JSON Stripe sent.
    - ``schedule``: the plan change a subscription's schedule has waiting.
- ``auth``: who is calling: a Firebase ID token verified.
- ``context``: what an operation receives; the bases of request and response models.
- ``translate``: exceptions from Stripe, Google Cloud and validation as billing errors.
- ``config``: billing's settings, read from the environment and checked at start.
- ``errors``: every error a function answers with.
- ``statuses``: which subscription statuses are live, ended or abandoned, and grant access.
- ``catalog/``: the one catalog (products, prices, features, codes, portal) Terraform, the
  stand-in and the functions share: ``catalog.json`` and its typed loader.
    - ``__main__``: ``python -m billing.catalog`` checks the file and says what it declares.
"""
