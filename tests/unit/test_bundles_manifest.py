"""Manifest rules: schema 1.0 vs 2.0, semver, safe and unique paths, model selection, names."""

from __future__ import annotations

import copy
import json

import pytest

from amatelier.bundles import BundleError
from amatelier.bundles.manifest import check_manifest, files_for, packaged_manifest, select_model
from amatelier.bundles.names import check_agent_name, normalise_model, role_token_for
from amatelier.bundles.pack import package_name
from amatelier.bundles.schema import schema_path

V2 = {
    "schema_version": "2.0",
    "name": "elena",
    "version": "1.2.0",
    "description": "synthesis",
    "role": "worker",
    "base_models": [
        {"model": "claude-sonnet-5-5", "provider": "anthropic", "persona": "shared"},
        {"model": "gpt-4o", "provider": "openai",
         "persona": {"claude_md": "variants/gpt-4o/CLAUDE.md"}, "prompt_template": "variants/gpt-4o/extra.md"},
    ],
    "shared": {"persona": {"claude_md": "CLAUDE.md", "identity_md": "IDENTITY.md"},
               "memory": "MEMORY.md", "skills": ["skills/a.md"]},
}


def v2(**changes) -> dict:
    manifest = copy.deepcopy(V2)
    manifest.update(changes)
    return manifest


def test_the_bundled_schema_is_a_valid_2020_12_schema():
    from jsonschema import Draft202012Validator

    schema = json.loads(schema_path().read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"].endswith("2020-12/schema")


def test_a_good_2_0_manifest_passes_and_lists_its_files():
    manifest = check_manifest(v2())
    assert files_for(manifest, all_models=True) == [
        "CLAUDE.md", "IDENTITY.md", "MEMORY.md", "skills/a.md", "variants/gpt-4o/CLAUDE.md",
        "variants/gpt-4o/extra.md"]
    gpt = select_model(manifest, "GPT-4o")
    assert files_for(manifest, gpt) == ["CLAUDE.md", "IDENTITY.md", "MEMORY.md", "skills/a.md",
                                        "variants/gpt-4o/CLAUDE.md", "variants/gpt-4o/extra.md"]
    claude = select_model(manifest, "claude-sonnet-5-5")
    assert files_for(manifest, claude) == ["CLAUDE.md", "IDENTITY.md", "MEMORY.md", "skills/a.md"]


def test_both_base_model_and_base_models_is_a_clear_error():
    manifest = v2(base_model={"model": "gpt-4o", "provider": "openai"})
    with pytest.raises(BundleError, match="has both base_model and base_models"):
        check_manifest(manifest)


def test_neither_model_field_means_1_0_rules_with_no_model_pinned():
    manifest = v2()
    del manifest["base_models"]
    del manifest["schema_version"]
    check_manifest(manifest)
    assert select_model(manifest, None) is None


@pytest.mark.parametrize(("changes", "message"), [
    ({"schema_version": "1.0"}, "schema_version 1.0 takes one base_model"),
    ({"base_models": []}, "base_models"),
    ({"version": "1.2"}, "version"),
    ({"version": "01.2.3"}, "version"),
    ({"name": "Elena!"}, "name"),
    ({"role": "dictator"}, "role"),
    ({"surprise": 1}, "surprise"),
])
def test_broken_rules_fail_with_the_key_named(changes, message):
    with pytest.raises(BundleError, match=message):
        check_manifest(v2(**changes))


def test_2_0_without_base_models_is_refused():
    manifest = v2()
    del manifest["base_models"]
    with pytest.raises(BundleError, match="2.0 needs a non-empty base_models"):
        check_manifest(manifest)


@pytest.mark.parametrize("bad", ["../escape.md", "/etc/passwd", "a/../../b", "C:/x", "a\\b", "a//b", "./a"])
def test_unsafe_paths_anywhere_are_refused(bad):
    manifest = v2()
    manifest["shared"]["skills"] = [bad]
    with pytest.raises(BundleError):
        check_manifest(manifest)
    manifest = v2()
    manifest["base_models"][1]["persona"] = {"claude_md": bad}
    with pytest.raises(BundleError):
        check_manifest(manifest)


def test_paths_must_be_unique_across_models_and_shared_files():
    manifest = v2()
    manifest["base_models"][0]["persona"] = {"claude_md": "variants/gpt-4o/CLAUDE.md"}
    with pytest.raises(BundleError, match="used by both model claude-sonnet-5-5 and model gpt-4o"):
        check_manifest(manifest)
    manifest = v2()
    manifest["base_models"][1]["persona"] = {"claude_md": "CLAUDE.md"}
    with pytest.raises(BundleError, match="used by both the shared files and model gpt-4o"):
        check_manifest(manifest)


def test_reserved_package_names_cannot_be_agent_files():
    manifest = v2()
    manifest["shared"]["license"] = "signature.sig"
    with pytest.raises(BundleError, match="signature.sig"):
        check_manifest(manifest)


def test_the_same_model_twice_is_refused():
    manifest = v2()
    manifest["base_models"][0]["model"] = "GPT-4o"
    manifest["base_models"][0]["persona"] = "shared"
    with pytest.raises(BundleError, match="listed twice"):
        check_manifest(manifest)


def test_several_models_and_no_choice_lists_the_models():
    with pytest.raises(BundleError, match="choose one with --model: claude-sonnet-5-5, gpt-4o"):
        select_model(check_manifest(v2()), None)
    with pytest.raises(BundleError, match="no model 'llama' .*models: claude-sonnet-5-5, gpt-4o"):
        select_model(check_manifest(v2()), "llama")


def test_the_packaged_manifest_keeps_only_the_packed_model():
    manifest = check_manifest(v2(integrity={"algorithm": "sha256", "files": {}}))
    packed = packaged_manifest(manifest, select_model(manifest, "gpt-4o"))
    assert [m["model"] for m in packed["base_models"]] == ["gpt-4o"]
    assert "integrity" not in packed
    assert len(manifest["base_models"]) == 2  # the author's manifest is not changed


def test_package_names_follow_the_schema_version():
    manifest = v2()
    assert package_name(manifest, manifest["base_models"][1]) == "elena-gpt-4o.v1.2.0.amatelier"
    nested = {**manifest, "base_models": [{"model": "Meta/Llama 3", "provider": "openrouter"}]}
    assert package_name(nested, nested["base_models"][0]) == "elena-meta-llama-3.v1.2.0.amatelier"
    v1 = {"name": "elena", "version": "1.0.0", "base_model": {"model": "gpt-4o", "provider": "openai"}}
    assert package_name(v1, v1["base_model"]) == "elena.v1.0.0.amatelier"


@pytest.mark.parametrize(("model", "expected"), [
    ("Meta/Llama 3", "meta-llama-3"), ("GPT-4o", "gpt-4o"), ("../../x", "x"), ("a/../b", "a-.-b")])
def test_model_names_normalise_to_safe_file_name_parts(model, expected):
    assert normalise_model(model) == expected
    assert "/" not in normalise_model(model) and ".." not in normalise_model(model)


def test_a_model_name_with_nothing_usable_is_refused():
    with pytest.raises(BundleError):
        normalise_model("///")


@pytest.mark.parametrize("name", ["", "Elena", "../x", "a b", "x" * 41, "1abc", "trusted_keys"])
def test_bad_agent_names_are_refused(name):
    with pytest.raises(BundleError):
        check_agent_name(name)


@pytest.mark.parametrize(("model", "token"), [
    ("gpt-4o", "sonnet"), ("gpt-4o-mini", "haiku"), ("claude-opus-5-5", "opus"), ("haiku", "haiku"),
    ("gemini-3-flash-preview", "sonnet")])
def test_installed_agents_run_on_a_role_token(model, token):
    assert role_token_for(model) == token


@pytest.mark.parametrize(("where", "value"), [
    ("model", "gpt\x1b[2J-4o"), ("provider", "open\nai"), ("specialty", "x\x07"), ("description", "a\x1b]8;;")])
def test_control_characters_cannot_reach_a_terminal_through_the_manifest(where, value):
    manifest = v2()
    if where in ("model", "provider"):
        manifest["base_models"][1][where] = value
    else:
        manifest[where] = value
    with pytest.raises(BundleError, match=where if where != "model" else "base_models"):
        check_manifest(manifest)


def test_a_description_may_span_lines():
    check_manifest(v2(description="line one\nline two\tindented"))
