"""The email function: one Pub/Sub billing notification in, at most one mail out.

``handler.send_email`` is the entry point (see ``app.registry``). A message is read against
the contract (:mod:`mailer.contract`), rendered (:mod:`mailer.compose`), claimed once in
Firestore (:mod:`mailer.once`) and sent over SMTP (:mod:`mailer.smtp`). Nothing here imports
Stripe or firebase-admin, so the function starts with only what it uses.
"""
