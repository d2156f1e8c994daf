"""PX4-flavoured MAVLink vehicles, depots and cameras for tests and the demo (DESIGN §1)."""
