import json

import textutil  # from the layer
from greeting import hello  # vendored in python/ (as `pip install -t python` leaves it)


def handler(event, context):
    name = json.loads(event or b"{}").get("name", "world")
    return {"report": textutil.shout(hello(name))}
