"""Domain logic of the control plane: the only layer that touches the ORM (DESIGN §3).

Services take a ``Principal`` and plain values, return msgspec Structs, and raise the
errors of ``control_plane.errors``; they know nothing of HTTP.
"""
