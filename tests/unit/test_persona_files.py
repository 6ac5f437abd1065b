"""Per-model persona variants at run time, and installed agents joining the roster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from amatelier import paths
from amatelier.config import load_config
from amatelier.persona_files import persona_files


def agent(tmp_path: Path, manifest: dict | str | None) -> Path:
    root = tmp_path / "nora"
    (root / "variants" / "gpt-4o").mkdir(parents=True)
    (root / "CLAUDE.md").write_text("shared persona")
    (root / "IDENTITY.md").write_text("shared identity")
    (root / "variants" / "gpt-4o" / "CLAUDE.md").write_text("gpt persona")
    (root / "variants" / "gpt-4o" / "extra.md").write_text("gpt notes")
    if manifest is not None:
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        (root / "manifest.json").write_text(text)
    return root


MANIFEST = {
    "schema_version": "2.0", "name": "nora", "version": "1.0.0",
    "base_models": [
        {"model": "claude-sonnet-5-5", "provider": "anthropic", "persona": "shared"},
        {"model": "gpt-4o", "provider": "openai", "persona": {"claude_md": "variants/gpt-4o/CLAUDE.md"},
         "prompt_template": "variants/gpt-4o/extra.md"},
    ],
}


def test_the_variant_for_the_running_model_is_used(tmp_path):
    root = agent(tmp_path, MANIFEST)
    files = persona_files(root, ["sonnet", "GPT-4o"])
    assert files.variant == "gpt-4o"
    assert files.claude_md.read_text() == "gpt persona"
    assert files.identity_md.read_text() == "shared identity"  # not varied: the shared one
    assert files.prompt_template is not None and files.prompt_template.read_text() == "gpt notes"


def test_other_models_and_plain_agents_use_the_shared_persona(tmp_path):
    root = agent(tmp_path, MANIFEST)
    for models in (["claude-sonnet-5-5"], ["offline-sonnet"], []):
        files = persona_files(root, models)
        assert files.variant is None and files.claude_md == root / "CLAUDE.md"
    plain = agent(tmp_path / "plain", None)
    assert persona_files(plain, ["gpt-4o"]).claude_md == plain / "CLAUDE.md"


@pytest.mark.parametrize("bad", ["{not json", "[]", json.dumps({"base_models": "x"}),
                                 json.dumps({"base_models": [{"model": "gpt-4o", "persona": {
                                     "claude_md": "../../../etc/passwd"}}]}),
                                 json.dumps({"base_models": [{"model": "gpt-4o", "persona": {
                                     "claude_md": "/etc/passwd"}}]}),
                                 json.dumps({"base_models": [{"model": "gpt-4o", "persona": {
                                     "claude_md": "variants/none.md"}}]})])
def test_a_broken_or_hostile_manifest_falls_back_to_the_shared_persona(tmp_path, bad):
    root = agent(tmp_path, bad)
    files = persona_files(root, ["gpt-4o"])
    assert files.claude_md == root / "CLAUDE.md" and files.variant is None


def test_a_link_out_of_the_agent_dir_is_not_followed(tmp_path):
    root = agent(tmp_path, MANIFEST)
    (tmp_path / "secret.md").write_text("secret")
    (root / "variants" / "gpt-4o" / "CLAUDE.md").unlink()
    (root / "variants" / "gpt-4o" / "CLAUDE.md").symlink_to(tmp_path / "secret.md")
    files = persona_files(root, ["gpt-4o"])
    assert files.claude_md.read_text() != "secret"


def test_installed_workers_join_the_roster_and_configured_ones_win(monkeypatch, tmp_path):
    monkeypatch.setenv("AMATELIER_WORKSPACE", str(tmp_path / "ws"))
    for name in ("nora", "elena", "gone"):
        if name != "gone":
            paths.user_agent_dir(name).mkdir(parents=True)
    registry = {"schema_version": 1, "agents": {
        "nora": {"name": "nora", "run_model": "haiku", "role": "worker", "specialty": "cost hawk"},
        "elena": {"name": "elena", "run_model": "opus", "role": "worker"},
        "gone": {"name": "gone", "run_model": "haiku", "role": "worker"},
        "arbiter": {"name": "arbiter", "role": "judge"},
        "../evil": {"name": "../evil", "role": "worker"},
    }}
    paths.user_agent_registry().write_text(json.dumps(registry))
    workers = load_config()["team"]["workers"]
    assert workers["nora"] == {"model": "haiku", "backend": "default", "role": "cost hawk", "installed": True}
    assert workers["elena"]["model"] == "sonnet"  # the config's own elena is kept
    assert workers["elena"]["role"] == "synthesis and architecture"
    # a tier unlock writes only the model into the user config: the rest still comes from the registry
    paths.user_config_override().write_text(json.dumps({"team": {"workers": {"nora": {"model": "opus"}}}}))
    workers = load_config()["team"]["workers"]
    assert workers["nora"] == {"model": "opus", "backend": "default", "role": "cost hawk", "installed": True}
    assert "gone" not in workers and "arbiter" not in workers and "../evil" not in workers


def test_a_corrupt_registry_adds_nobody_and_stops_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("AMATELIER_WORKSPACE", str(tmp_path / "ws"))
    paths.user_agent_registry().parent.mkdir(parents=True)
    paths.user_agent_registry().write_text("{torn")
    assert set(load_config()["team"]["workers"]) == {"elena", "marcus", "clare", "simon", "naomi"}


def test_build_system_speaks_with_the_variant_and_its_notes(tmp_path):
    from amatelier.debate.context import build_system, max_system_chars

    root = agent(tmp_path, MANIFEST)
    (root / "MEMORY.md").write_text("remembered")
    on_gpt = build_system("nora", {}, agent_dir=root, models=["sonnet", "gpt-4o"])
    assert on_gpt.startswith("gpt persona")
    assert "## Identity\n\nshared identity" in on_gpt
    assert "## Notes for this model\n\ngpt notes" in on_gpt and "remembered" in on_gpt
    on_claude = build_system("nora", {}, agent_dir=root, models=["sonnet", "claude-sonnet-5-5"])
    assert on_claude.startswith("shared persona") and "gpt notes" not in on_claude
    (root / "variants" / "gpt-4o" / "extra.md").write_text("n" * 100000)
    assert len(build_system("nora", {}, agent_dir=root, models=["gpt-4o"])) <= max_system_chars()


def test_the_learning_loop_evolves_every_variant_too(monkeypatch, tmp_path):
    from amatelier.learning import evolver

    monkeypatch.setenv("AMATELIER_WORKSPACE", str(tmp_path / "ws"))
    root = paths.user_agent_dir("nora")
    root.parent.mkdir(parents=True)
    built = agent(tmp_path, MANIFEST)
    built.rename(root)
    (root / "behaviors.json").write_text("{}")
    evolver.add_learned_behavior("nora", "Quote the briefing's numbers before arguing cost.")
    for path in (root / "CLAUDE.md", root / "variants" / "gpt-4o" / "CLAUDE.md"):
        items = evolver.get_section_items(path.read_text(), evolver.LEARNED_BEHAVIORS)
        assert items == ["Quote the briefing's numbers before arguing cost."], path
    assert (root / "variants" / "gpt-4o" / "CLAUDE.md").read_text().startswith("gpt persona")
    assert evolver.variant_persona_files(root) == [(root / "variants" / "gpt-4o" / "CLAUDE.md").resolve()]
