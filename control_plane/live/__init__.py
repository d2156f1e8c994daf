"""The FLV relay: one publisher per live point, many viewers, no HTTP in here.

``hub.LiveHub`` holds a ``channel.Channel`` per ``(node_id, point_id)``; the API's video
controller feeds a channel from a node's PUT and drains ``viewer.Viewer`` queues into
players' GETs; ``tokens`` signs the short-lived viewer URLs.
"""
