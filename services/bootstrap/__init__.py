"""The composition root. Read it top-down:

- ``adapters``: the adapter behind every port, chosen from settings (broker, blobs, vectors, graph,
  embedder, graph extractor);
- ``process``: ``run_roles`` runs any roles of ``services.roles`` in this process, opening only the
  ports they need (``ragstream worker ROLE...``);
- ``agent``: the chat agent's dependencies; ``gateway``: a gateway from settings.

``ragstream up`` is every role plus the embedded infrastructure (``services.generations``, which
also hosts the index generations a reindex starts); ``services.admin`` serves the HTTP API over it.
Submodules are imported directly (``from services.bootstrap.process import run_roles``): the
pipeline imports ``adapters``, and an eager import here would make that a cycle.
"""
