"""Path parameter types shared by the controllers."""

from __future__ import annotations

from typing import Annotated

from litestar.params import Parameter

from control_plane.services.ids import MAX_ID

PathId = Annotated[int, Parameter(ge=1, le=MAX_ID)]
"""An id in a path; outside the id range it is a 400, never a database error."""
