"""MQTT side of the control plane: broker, bridge, node state, RPC and job dispatch."""
