"""HTTP controllers, one module per resource; thin: parse, call a service, answer."""
