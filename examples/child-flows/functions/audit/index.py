"""Write an audit record of a purchase request."""

import json


def handler(event, context):
    return {"audited": json.loads(event).get("item", "")}
