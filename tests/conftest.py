"""Every test runs apart from the developer's machine.

A developer's shell may export provider keys, a mode override or a test-fault knob, and
the real workspace is the user's data directory. Before each test this removes those
variables and points AMATELIER_WORKSPACE at a fresh temp dir, so a test that forgets to
isolate itself can neither reach a real provider with a real key nor write into the
user's data. Tests that need a variable set it themselves with monkeypatch.
"""

from __future__ import annotations

import pytest
from tests.helpers.backends_config import PROVIDER_ENV

SCRUBBED = (*PROVIDER_ENV, "AMATELIER_TEST_FAULT", "AMATELIER_TEST_AUDIT_OPENS",
            "AMATELIER_OFFLINE_DELAY_MS", "AMATELIER_OFFLINE_ORDER_BIAS")


@pytest.fixture(autouse=True)
def _apart_from_the_developer_machine(monkeypatch: pytest.MonkeyPatch,
                                      tmp_path_factory: pytest.TempPathFactory) -> None:
    for name in SCRUBBED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AMATELIER_WORKSPACE", str(tmp_path_factory.mktemp("workspace") / "ws"))
