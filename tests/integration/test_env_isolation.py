"""tests/conftest.py keeps a developer's keys, mode override and real workspace out of tests.

The probe below runs in a child pytest whose environment carries fake "real" keys, a
mode override, a fault knob and a workspace: inside the test none of them may be seen.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LEAKY = {"ANTHROPIC_API_KEY": "sk-ant-developer", "OPENAI_API_KEY": "sk-developer",
         "GEMINI_API_KEY": "g-developer", "GOOGLE_API_KEY": "g-developer",
         "AMATELIER_MODE": "anthropic-sdk", "AMATELIER_TEST_FAULT": "elena:1:crash"}


def test_probe_sees_a_clean_environment() -> None:
    for name in LEAKY:
        assert name not in os.environ, name
    workspace = os.environ["AMATELIER_WORKSPACE"]
    assert workspace != os.environ.get("AMATELIER_PROBE_REAL_WORKSPACE")
    assert not Path(workspace).exists()  # fresh for this test, created only when used


def test_a_developer_environment_does_not_reach_the_tests(tmp_path: Path) -> None:
    real = tmp_path / "real-user-data"
    env = dict(os.environ, **LEAKY, AMATELIER_WORKSPACE=str(real),
               AMATELIER_PROBE_REAL_WORKSPACE=str(real))
    node = f"{Path(__file__).relative_to(REPO)}::test_probe_sees_a_clean_environment"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", node],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout
    assert not real.exists()
