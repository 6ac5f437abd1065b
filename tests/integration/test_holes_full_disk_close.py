"""A disk that fills up while a roundtable closes: the digest is still printed, nothing is lost,
and the next command marks the roundtable cut and gives the entry fees back.

The fault is injected into the runner process only, with a `sitecustomize` module on its
PYTHONPATH (test code, not product code): marking the roundtable closed or cut raises
SQLite's `database or disk is full`, and writing digest files raises ENOSPC, exactly what a
full disk does at that moment, while the transcript already written stays readable.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.helpers.roundtable_run import roundtable_args, rows, rt_env, run_cli
from tests.helpers.schemas import assert_valid

pytestmark = pytest.mark.e2e

SITECUSTOMIZE = '''
import errno, os, sqlite3
if os.environ.get("HOLES_FULL_AT_CLOSE") == "1":
    from amatelier.chat import roundtables
    from amatelier.debate import after

    def _full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    def _enospc(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    roundtables.close_roundtable = _full
    roundtables.cut_roundtable = _full
    after.write_json_atomic = _enospc
    after.write_text_atomic = _enospc
'''


def test_a_full_disk_at_close_prints_the_digest_and_the_next_command_settles(tmp_path):
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    env = rt_env(tmp_path / "ws")
    faulty = dict(env, HOLES_FULL_AT_CLOSE="1",
                  PYTHONPATH=os.pathsep.join([str(inject), env.get("PYTHONPATH", "")]))

    before = json.loads(run_cli(["sparks", "--json"], env).stdout)["balances"]
    result = run_cli(roundtable_args("full disk?", "--workers", "elena,marcus", "--max-rounds", "1",
                                     "--skip-post"), faulty)

    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    digest = json.loads(result.stdout)  # the digest JSON is printed in full
    assert digest["pending_cut"] is True and digest["final_positions"]
    assert_valid("digest", digest)  # the keys this adds are described by the schema
    rt_id = digest["rt_id"]
    note = [line for line in result.stderr.splitlines() if "could not be marked" in line]
    assert len(note) == 1 and "disk" in note[0] and "refunded by the next amatelier command" in note[0]
    assert any("digest not saved" in w for w in digest["warnings"])
    assert rows(tmp_path / "ws", "SELECT status FROM roundtables WHERE id = ?", rt_id) == [{"status": "open"}]
    fees = rows(tmp_path / "ws", "SELECT agent, amount FROM spark_ledger WHERE rt_id = ? AND category = 'fee'",
                rt_id)
    assert {f["agent"] for f in fees} == {"elena", "marcus"}

    # The next command (a read-only one, even) marks it cut and refunds the fees.
    after = run_cli(["sparks", "--json"], env)
    assert after.returncode == 0, after.stderr
    [rt] = rows(tmp_path / "ws", "SELECT status, cut_reason FROM roundtables WHERE id = ?", rt_id)
    assert rt["status"] == "cut" and "runner" in rt["cut_reason"]
    refunds = rows(tmp_path / "ws", "SELECT agent, amount FROM spark_ledger WHERE rt_id = ? AND category = 'refund'",
                   rt_id)
    assert sorted((r["agent"], r["amount"]) for r in refunds) == sorted((f["agent"], -f["amount"]) for f in fees)
    balances = json.loads(after.stdout)["balances"]
    granted = {r["agent"]: r["amount"] for r in rows(tmp_path / "ws", "SELECT agent, amount FROM spark_ledger "
                                                                      "WHERE category = 'grant'")}
    # nothing but the starter grant changed: the cut roundtable cost no sparks
    assert {a: balances[a] for a in ("elena", "marcus")} == {a: before[a] + granted[a] for a in ("elena", "marcus")}
    assert not Path(tmp_path / "ws" / "roundtable-server" / f"digest-{rt_id}.json").exists()


def _can_mount_tmpfs() -> bool:
    import shutil
    import subprocess

    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "d=$(mktemp -d) && mount -t tmpfs -o size=1m tmpfs $d"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


FILL_MID_RUN = r"""
set -e
mount -t tmpfs -o size=3m tmpfs "$WS"
cp -a "$SRC/." "$WS/"
cd "$REPO"
set +e
AMATELIER_OFFLINE_DELAY_MS=150 "$PY" -m amatelier roundtable --topic "fill me" --briefing "$BRIEFING" \
    --workers elena,marcus --max-rounds 2 --skip-post > "$OUT/run.out" 2> "$OUT/run.err" &
runner=$!
for _ in $(seq 1 300); do
  n=$("$PY" -c "import sqlite3, sys; c = sqlite3.connect(f'file:{sys.argv[1]}?mode=ro', uri=True); print(c.execute(\"SELECT COUNT(*) FROM messages m JOIN roundtables r ON r.id = m.rt_id WHERE r.status = 'open'\").fetchone()[0])" "$WS/roundtable-server/roundtable.db" 2>/dev/null)
  [ "${n:-0}" -ge 8 ] && break
  sleep 0.1
done
dd if=/dev/zero of="$WS/filler" bs=4k 2>/dev/null
wait $runner; echo $? > "$OUT/run.rc"
rm -f "$WS/filler"
"$PY" -m amatelier sparks --json > "$OUT/next.out" 2> "$OUT/next.err"; echo $? > "$OUT/next.rc"
"$PY" -c "import json, sqlite3, sys; c = sqlite3.connect(sys.argv[1]); print(json.dumps([list(r) for r in c.execute(\"SELECT id, status FROM roundtables ORDER BY rowid DESC LIMIT 1\")] + [list(r) for r in c.execute(\"SELECT agent, category, amount FROM spark_ledger WHERE rt_id = (SELECT id FROM roundtables ORDER BY rowid DESC LIMIT 1) ORDER BY id\")]))" "$WS/roundtable-server/roundtable.db" > "$OUT/after.json"
"""


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="cannot mount a tmpfs in a user namespace here")
def test_a_disk_filled_mid_roundtable_keeps_the_digest_and_the_next_command_settles(tmp_path):
    """The real thing: a 3 MB tmpfs filled up while the offline debate runs."""
    import subprocess
    import sys

    from tests.helpers.roundtable_run import BRIEFING, REPO

    src = tmp_path / "seed-ws"
    assert run_cli(roundtable_args("seed", "--workers", "elena", "--max-rounds", "1", "--skip-post"),
                   rt_env(src)).returncode == 0
    ws, out = tmp_path / "ws", tmp_path / "out"
    ws.mkdir()
    out.mkdir()
    env = dict(rt_env(ws), SRC=str(src), WS=str(ws), OUT=str(out), REPO=str(REPO), PY=sys.executable,
               BRIEFING=str(BRIEFING))
    subprocess.run(["unshare", "-rm", "bash", "-c", FILL_MID_RUN], env=env, check=True, timeout=600)

    assert (out / "run.rc").read_text().strip() == "1"
    stderr = (out / "run.err").read_text()
    assert "Traceback" not in stderr and "full" in stderr
    assert "refunded by the next amatelier command" in stderr
    digest = json.loads((out / "run.out").read_text())  # printed although the disk was full
    assert digest["pending_cut"] is True and digest["status"] == "open"
    assert (out / "next.rc").read_text().strip() == "0"
    [rt, *ledger] = json.loads((out / "after.json").read_text())
    assert rt == [digest["rt_id"], "cut"]
    fees = {agent: amount for agent, category, amount in ledger if category == "fee"}
    refunds = {agent: amount for agent, category, amount in ledger if category == "refund"}
    assert fees and refunds == {agent: -amount for agent, amount in fees.items()}
