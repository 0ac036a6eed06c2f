"""Shared pytest configuration: hypothesis profiles (CI runs more examples than a local run)."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=400, deadline=None)
settings.register_profile(
    "dev", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
