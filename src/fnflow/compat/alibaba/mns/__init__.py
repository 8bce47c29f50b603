"""MNS's queue and topic API (version 2015-06-06), the subset Alibaba's ``aliyun-mns`` SDK uses,
over fnflow's built-in queues and topics.

``signature`` checks MNS request signatures, ``documents`` reads and writes MNS's XML, ``shapes``
writes records as MNS's fields, ``errors`` maps fnflow's errors to MNS's codes and statuses,
``routes`` tells the action of a request, ``calls`` holds what an action gets and gives, ``queues``
and ``topics`` are the actions over ``fnflow.services``, and ``answer`` answers a request with all
of them. The use cases, and every decision, are the services'.
"""
