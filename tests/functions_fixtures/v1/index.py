def handler(event, context):
    return "v1"
