"""The service objects one running control plane uses, built from its settings."""

from __future__ import annotations

from dataclasses import dataclass

from control_plane.services.auth import AuthPolicy, AuthService
from control_plane.services.blob_store import BlobStore
from control_plane.services.blobs import BlobService
from control_plane.services.clock import Clock, utc_now
from control_plane.services.dispatch import DispatchService
from control_plane.services.jobs import JobService
from control_plane.services.listings import Listings
from control_plane.services.live_video import LiveTokens
from control_plane.settings import Settings
from shared.mission.feasibility import MissionLimits


@dataclass(frozen=True)
class Services:
    """Services that hold configuration or state; stateless ones are plain modules."""

    auth: AuthService
    blobs: BlobService
    jobs: JobService
    dispatch: DispatchService
    listings: Listings
    live_tokens: LiveTokens
    """Signs and checks the live video's viewer tokens (``GOSD_LIVE_TOKEN_*``)."""
    mission_limits: MissionLimits
    """What plans' and jobs' missions are checked with (``GOSD_MISSION_*``)."""

    @classmethod
    def create(cls, settings: Settings, clock: Clock = utc_now) -> Services:
        store = BlobStore(settings.blob_dir)
        store.prepare()
        policy = AuthPolicy(
            access_token_ttl_s=settings.access_token_ttl_s,
            refresh_token_ttl_s=settings.refresh_token_ttl_s,
            login_max_failures=settings.login_max_failures,
            login_lockout_s=settings.login_lockout_s,
        )
        limits = settings.mission_limits
        return cls(
            auth=AuthService(policy, clock),
            blobs=BlobService(store, mission_limits=limits),
            jobs=JobService(clock, store, mission_limits=limits),
            dispatch=DispatchService(clock),
            listings=Listings(),
            live_tokens=LiveTokens.create(
                settings.live_token_key, settings.live_token_max_ttl_s, settings.base_path, clock
            ),
            mission_limits=limits,
        )
