"""Flow definitions shared by the client and CLI end-to-end tests."""

REJECT = """\
version: v1
type: flow
steps:
  - type: fail
    name: Reject
    error: Rejected
    cause: not today
"""

APPROVE = """\
version: v1
type: flow
steps:
  - type: task
    name: Approve
    resourceArn: acs:fc:::services/default/functions/ask
    pattern: waitForCallback
    inputMappings:
      - target: token
        source: $context.task.token
"""
