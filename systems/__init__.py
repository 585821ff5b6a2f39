"""Facts about the systems shopbridge connects, one package per system kind.

A system's database facts (which tables it has under which names, how it stores a tax rate or
a number range, how it writes a person's name) are needed by both directions: the producer
that reads the system and the consumer that writes into it. They live here, once, so that
``producers/`` and ``consumers/`` never import each other. A package here imports only the
core (``shopbridge/``), never a producer, a consumer or another system's package.
"""
