"""Accept fronts: processes beside the server that take ``POST /async-function/…`` on a port of
their own (``fnflow server --accept-port``) and pass each event-loop turn's calls, in one frame,
to the server that owns the database (``owner``), which stores them as its gateway does and
answers each once it is committed (``front``). The server's own event loop then does a call's
storing only, not its HTTP: one process's loop was the limit of the accept path (bench/README.md).

The wire between them is ``fnflow.functions._protocol``'s frames over a Unix socket: ``CALLS``
(front → owner) carries ``[seq, path, query, headers, start, body length]`` per call as JSON and
the bodies one after another; ``ANSWERS`` (owner → front) carries ``[seq, status, call id,
error]`` per call.
"""

CALLS = 1
ANSWERS = 2
