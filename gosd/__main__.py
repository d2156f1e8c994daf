"""Route ``gosd agent ...`` to the edge agent, ``gosd sim ...`` to the simulator and
everything else to the control plane.

Only the chosen deployable is imported, so an agent installed with the ``agent`` extra
alone (no Litestar, no Tortoise) runs ``gosd agent``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["agent"]:
        from edge_agent.cli import main as agent_main

        return agent_main(args[1:])
    if args[:1] == ["sim"]:
        from simulator.cli import main as sim_main

        return sim_main(args[1:])
    from control_plane.cli import main as control_plane_main

    return control_plane_main(args)


if __name__ == "__main__":
    sys.exit(main())
