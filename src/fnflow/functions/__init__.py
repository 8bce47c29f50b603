"""Functions: code packages, and warm worker processes that run deployed Python handlers.

Import from the modules (``fnflow.functions.pool``, ``.spec``, ``.codepkg``): this package imports
nothing itself, so a worker process (``python -m fnflow.functions._worker``) starts without asyncio.
"""
