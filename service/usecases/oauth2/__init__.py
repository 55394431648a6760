"""The authorization server's use cases, one module per job.

``grant_types`` is the registry the token endpoint dispatches through, with one
module per grant (``authorization_code``, ``refresh_token``); ``client_authentication``,
``consent``, ``sessions``, ``introspection``, ``revocation`` and ``bearer`` are the
rest. Every use case reaches storage through the protocols of ``stores``, so that the
rules run on in-memory fakes in the unit tests.
"""
