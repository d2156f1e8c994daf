"""The gosd wire protocol: what the control plane and the edge agents must agree on.

Nothing here imports the rest of the project, so an edge agent can depend on it alone.
"""
