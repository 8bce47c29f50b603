"""Built-in queues and topics, the adapter side: attributes and their limits, receipt handles,
subscription endpoints and the MNS notification formats (pure), and the long-poll wake-ups (I/O;
expired messages are swept by ``fnflow.retention``). The use cases are ``fnflow.services.queues``
and ``fnflow.services.topics``.
"""
