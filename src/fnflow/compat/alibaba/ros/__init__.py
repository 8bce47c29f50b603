"""ROS templates, and Funcraft's (``Transform: Aliyun::Serverless-2018-04-03``), as stack plans.

``document`` reads a template with the line of each value (YAML short tags included),
``parameters`` gives the parameters their values, ``intrinsics`` evaluates ROS's functions and
conditions, ``resources`` turns each supported resource type into plan items, ``roles`` maps RAM
policies onto key scopes, ``template`` puts these together into a ``Draft`` (pure), and ``code``
reads what the template names on disk. ``load`` does all of it for a template file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from fnflow.compat.alibaba.ros import code, document, template
from fnflow.compat.alibaba.ros.draft import Draft
from fnflow.compat.alibaba.ros.problems import TemplateError, TemplateProblem
from fnflow.compat.alibaba.ros.template import Options
from fnflow.services.stackplan import StackPlan

__all__ = ["Loaded", "Options", "TemplateError", "TemplateProblem", "load", "stack_name"]


@dataclass(frozen=True)
class Loaded:
    draft: Draft  # the outputs and warnings
    plan: StackPlan


def stack_name(template: Path) -> str:
    """The default stack name of a template: its folder's, made a valid name."""
    name = re.sub(r"[^A-Za-z0-9_-]", "-", template.resolve().parent.name) or "stack"
    return name if re.match(r"[A-Za-z_]", name) else f"stack-{name}"


def load(path: Path, options: Options) -> Loaded:
    """The plan of the template at ``path``: TemplateError with every problem, OSError if it
    cannot be read."""
    doc = document.read(path.read_text(), path.name)
    made = template.draft(doc, options, code.reader(path.parent))
    return Loaded(made, made.plan(code.packages(made, path.parent)))
