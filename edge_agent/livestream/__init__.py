"""The node's live video: one FLV stream per configured point, pushed to the control
plane's ingest (``stream.py``), read from its source on a thread (``capture.py``), run
and reported together (``streams.py``)."""

from edge_agent.livestream.streams import LiveStreams

__all__ = ["LiveStreams"]
