"""The seed's `provision` function (best practice 6), version 2: it says which version it is."""

import json
import logging


def handler(event, context):
    logging.getLogger().info("Started function test (v2)")
    return json.dumps({"success": True, "version": "v2"})
