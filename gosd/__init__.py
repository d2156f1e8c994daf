"""The ``gosd`` command: one entry point for every deployable of the distribution."""
