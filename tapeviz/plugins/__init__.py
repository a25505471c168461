"""The built-in gradient rules: one pluggy plugin per op family, registered like third-party ones.

Every public module here (no leading underscore) is loaded as a plugin named ``tapeviz.<module>``.
"""
