# The child flow's work: sums up the orders.
ORDERS = [12, 30, 0.5]


def handler(event, context):
    return {"total": sum(ORDERS)}
