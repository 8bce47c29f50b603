from greeting import hello


def handle(event, context):
    return {"statusCode": 200, "body": hello(event.body.decode() or "world")}
