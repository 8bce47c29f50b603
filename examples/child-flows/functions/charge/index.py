"""Charge a card: fails with PaymentDeclined above the limit (the error name a flow catches)."""

import json

LIMIT = 100


class PaymentDeclined(Exception):
    pass


def handler(event, context):
    payment = json.loads(event)
    if payment["amount"] > LIMIT:
        raise PaymentDeclined(f"{payment['amount']} is over the card's limit of {LIMIT}")
    return {"receipt": f"rcpt-{payment['order']}"}
