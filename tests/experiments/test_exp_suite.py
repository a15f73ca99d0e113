"""The bundled suite and its loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.suites import BUNDLED_DIR, SuiteError, load_suite, parse_suite_text


def test_bundled_suite_has_100_unique_graded_theorems():
    thms = load_suite()
    assert len(thms) >= 100
    names = [t.name for t in thms]
    assert len(set(names)) == len(names)
    for t in thms:
        assert t.source.startswith(f"theorem {t.name} ")
        assert t.source.endswith(":= by sorry")
        assert t.source.count("sorry") == 1
        assert t.difficulty in (1, 2, 3, 4, 5), t
        assert t.imports == ()
    grades = {t.difficulty for t in thms}
    assert grades == {1, 2, 3, 4, 5}


def test_bundled_suite_uses_only_core_lean_syntax():
    """No Mathlib notation, no imports; the connectives the issue names all appear. `∀` and `∃` are Lean 4 core
    (the first-order families use them); `ℕ` and `lemma` are Mathlib's."""
    full = "\n".join(p.read_text() for p in sorted(BUNDLED_DIR.glob("*.lean")))
    text = "\n".join(line for line in full.splitlines() if not line.startswith("--"))
    assert "import" not in text
    for sym in ("∧", "∨", "→", "¬", "↔", "True", "False", "=", "∀", "∃"):
        assert sym in text, sym
    for foreign in ("Mathlib", "ℕ", "lemma "):
        assert foreign not in text, foreign


def test_families_grow_in_length():
    thms = {t.name: t for t in load_suite()}
    for k in range(2, 13):
        assert f"imp_chain_{k}" in thms and f"eq_chain_{k}" in thms
    assert thms["imp_chain_2"].difficulty <= thms["imp_chain_12"].difficulty


def test_filters(tmp_path):
    assert [t.name for t in load_suite(["bundled:01_basics.lean"], ["basic_eq_*"])] == [
        "basic_eq_refl", "basic_eq_symm", "basic_eq_trans"]
    assert all(t.difficulty <= 2 for t in load_suite(max_difficulty=2))
    assert len(load_suite(limit=7)) == 7
    assert not any(t.name.startswith("eq_chain") for t in load_suite(exclude=["eq_chain_*"]))


def test_user_file_with_imports_and_multiline_theorem(tmp_path):
    f = tmp_path / "mine.lean"
    f.write_text("import Mathlib\nimport Foo.Bar\n\n/- a block\ncomment -/\n-- difficulty: 4\n"
                 "theorem two_lines (p : Prop) :\n    p → p := by sorry\n\ntheorem one (p : Prop) : p := by sorry\n")
    thms = load_suite([str(f)])
    assert [t.name for t in thms] == ["two_lines", "one"]
    assert thms[0].imports == ("Mathlib", "Foo.Bar")
    assert thms[0].difficulty == 4 and thms[1].difficulty is None
    assert thms[0].source == "theorem two_lines (p : Prop) :\n    p → p := by sorry"
    assert thms[0].line == 7
    assert load_suite(["*.lean"], base_dir=tmp_path) == thms


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("theorem t (p : Prop) : p → p := by\n  intro h\n  exact h\n", "does not end with `:= by sorry`"),
        ("theorem t (p : Prop) : p → p := by sorry\nimport Foo\n", "`import` after the first theorem"),
        ("def x := 1\n", "unexpected line"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path, text, fragment):
    with pytest.raises(SuiteError) as ei:
        parse_suite_text(text, file=tmp_path / "bad.lean")
    assert fragment in str(ei.value) and "bad.lean:" in str(ei.value)


def test_duplicate_names_across_files(tmp_path):
    (tmp_path / "a.lean").write_text("theorem t (p : Prop) : p → p := by sorry\n")
    (tmp_path / "b.lean").write_text("\n\ntheorem t (q : Prop) : q → q := by sorry\n")
    with pytest.raises(SuiteError, match=r"appears twice: .*a.lean:1 and .*b.lean:3"):
        load_suite([str(tmp_path)])


def test_unmatched_path_is_an_error(tmp_path):
    with pytest.raises(SuiteError, match="matches no .lean file"):
        load_suite(["nothing-*.lean"], base_dir=tmp_path)
    with pytest.raises(SuiteError, match="bundled"):
        load_suite(["bundled:zz*.lean"])
