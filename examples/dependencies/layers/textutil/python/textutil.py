"""A layer's module: any function that names the layer imports it."""


def shout(text):
    return text.upper() + "!"
