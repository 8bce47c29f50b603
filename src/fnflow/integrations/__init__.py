"""What task steps call: one integration per kind of ``resourceArn`` (see ``base``)."""

from fnflow.integrations.base import (
    After,
    Integration,
    Integrations,
    Parent,
    Task,
    TaskResults,
    task_payload,
)

__all__ = ["After", "Integration", "Integrations", "Parent", "Task", "TaskResults", "task_payload"]
