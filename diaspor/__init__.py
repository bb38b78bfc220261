"""The application: the `diaspor` command, composition of the packages, and the demo station."""
