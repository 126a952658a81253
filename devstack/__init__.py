"""Local development stack: emulators, the Stripe stand-in, an SMTP sink. Never deployed."""

import sys
from pathlib import Path

# The stand-in seeds itself from the functions' catalog (functions/billing/catalog: one catalog
# for Stripe, the functions and the stand-in), so `python -m devstack.stripe_standin` from the
# repository root must find `billing` without PYTHONPATH (make and the stack set it; a person
# running the documented command may not). Appended: an explicit PYTHONPATH still comes first.
_FUNCTIONS = str(Path(__file__).resolve().parent.parent / "functions")
if _FUNCTIONS not in sys.path:
    sys.path.append(_FUNCTIONS)
