"""The gosd edge agent: runs on each drone companion computer and depot (DESIGN §1)."""
