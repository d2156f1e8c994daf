"""Persistence: Tortoise ORM models, migrations and the database's lifecycle.

Only ``control_plane.services`` imports this package (DESIGN §3).
"""
