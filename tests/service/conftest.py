"""The interop fixtures (a real Kamailio per test) for the service tests too."""

from tests.interop.conftest import kamailio

__all__ = ["kamailio"]
