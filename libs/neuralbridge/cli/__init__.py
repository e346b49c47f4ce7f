"""The ``nb`` (``neuralbridge``) command line."""
