"""The lists clients poll, answered through a ``ListingCache`` per kind."""

from __future__ import annotations

from control_plane.services import nodes, plans
from control_plane.services.listing_cache import NODE_WRITES, PLAN_WRITES, ListingCache
from control_plane.services.nodes import NodeOut
from control_plane.services.plans import PlanOut
from control_plane.services.principal import Principal


class Listings:
    """One app's remembered node and plan lists (see ``listing_cache``)."""

    def __init__(self) -> None:
        self._nodes: ListingCache[list[NodeOut]] = ListingCache(NODE_WRITES)
        self._plans: ListingCache[list[PlanOut]] = ListingCache(PLAN_WRITES)

    async def nodes(self, principal: Principal) -> list[NodeOut]:
        """``nodes.list_nodes``; the answer is shared between requests: do not change it."""
        return await self._nodes.get(principal.group_id, lambda: nodes.list_nodes(principal))

    async def plans(self, principal: Principal) -> list[PlanOut]:
        """``plans.list_plans``; the answer is shared between requests: do not change it."""
        return await self._plans.get(principal.group_id, lambda: plans.list_plans(principal))
