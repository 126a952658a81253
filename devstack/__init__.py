"""Local development stack: emulators, the Stripe stand-in, an SMTP sink. Never deployed."""
