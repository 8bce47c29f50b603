"""A python3-flask handler: req is the body as text; it returns what a Flask view may."""


def handle(req):
    if req == "missing":
        return "not here", 404
    if req == "json":
        return {"echo": req}
    return req
