"""The gosd control plane: HTTP API, users and tokens, nodes, blobs, plans and jobs."""
