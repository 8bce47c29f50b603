"""Alibaba Cloud's wire formats: the FnF (Serverless Workflow) RPC API, 2019-03-15, and (in
``mns``) MNS's queue and topic API, 2015-06-06.

``signature`` checks RPC request signatures, ``params`` reads an action's parameters, ``shapes``
writes records as FnF's responses, ``errors`` maps fnflow's errors to Alibaba's codes and statuses,
``hosts`` knows FnF's endpoint names, ``actions`` is the table of actions over the services, and
``rpc`` answers an HTTP request with all of them. ``fc`` knows Function Compute's endpoints and
its HTTP triggers' path; ``ros`` reads ROS and Funcraft templates into stack plans. Nothing here
decides anything the native API would decide differently: the use cases are ``fnflow.services``'.
"""
