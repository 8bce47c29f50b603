"""FDL: parse, validate and compile flow definitions (pure, no I/O)."""

from fnflow.fdl.arn import (
    FlowTarget,
    FunctionTarget,
    QueueTarget,
    ResourceTarget,
    TopicTarget,
    parse_resource_arn,
)
from fnflow.fdl.loader import load_document
from fnflow.fdl.location import Positions
from fnflow.fdl.model import (
    Branch,
    CatchPolicy,
    ChoiceDefault,
    ChoiceRule,
    ChoiceStep,
    FailStep,
    Flow,
    ForeachStep,
    IterationMapping,
    Mapping,
    ParallelStep,
    PassStep,
    RetryPolicy,
    StepModel,
    SucceedStep,
    TaskStep,
    WaitStep,
)
from fnflow.fdl.validate import definition_hash, parse_flow, validate_flow

__all__ = [
    "Branch",
    "CatchPolicy",
    "ChoiceDefault",
    "ChoiceRule",
    "ChoiceStep",
    "FailStep",
    "Flow",
    "FlowTarget",
    "ForeachStep",
    "FunctionTarget",
    "IterationMapping",
    "Mapping",
    "ParallelStep",
    "PassStep",
    "Positions",
    "QueueTarget",
    "ResourceTarget",
    "RetryPolicy",
    "StepModel",
    "SucceedStep",
    "TaskStep",
    "TopicTarget",
    "WaitStep",
    "definition_hash",
    "load_document",
    "parse_flow",
    "parse_resource_arn",
    "validate_flow",
]
