"""`python -m diaspor` is the `diaspor` command."""

from diaspor.cli import main

main()
