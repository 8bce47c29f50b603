"""The seed's `provision` function (best practice 6), version 1: it says which version it is."""

import json
import logging


def handler(event, context):
    logging.getLogger().info("Started function test (v1)")
    return json.dumps({"success": True, "version": "v1"})
