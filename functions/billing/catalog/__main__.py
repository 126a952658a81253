"""`python -m billing.catalog`: check the catalog file and say what it declares."""

from billing.catalog import main

main()
