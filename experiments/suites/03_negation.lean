-- cryo bundled suite: negation and the intuitionistic parts of de Morgan
-- Lean 4 core (no Mathlib). Every theorem is stated with `:= by sorry`; the prover's job is to replace it.
-- The `-- difficulty: N` line above a theorem grades it from 1 (one tactic) to 5 (deep).

-- difficulty: 2
theorem negation_double_intro (p : Prop) : p → ¬¬p := by sorry

-- difficulty: 3
theorem negation_triple (p : Prop) : ¬¬¬p → ¬p := by sorry

-- difficulty: 2
theorem negation_noncontradiction (p : Prop) : ¬(p ∧ ¬p) := by sorry

-- difficulty: 2
theorem negation_contrapositive (p q : Prop) : (p → q) → ¬q → ¬p := by sorry

-- difficulty: 5
theorem negation_not_iff_self (p : Prop) : ¬(p ↔ ¬p) := by sorry

-- difficulty: 4
theorem negation_dne_em (p : Prop) : ¬¬(p ∨ ¬p) := by sorry

-- difficulty: 3
theorem negation_imp_not_self (p : Prop) : (p → ¬p) → ¬p := by sorry

-- difficulty: 5
theorem negation_not_not_imp (p q : Prop) : ¬¬(p → q) → ¬¬p → ¬¬q := by sorry

-- difficulty: 2
theorem negation_or_false (p : Prop) : p ∨ False → p := by sorry

-- difficulty: 1
theorem negation_and_not_false (p : Prop) : p ∧ ¬p → False := by sorry

-- difficulty: 3
theorem demorgan_not_or (p q : Prop) : ¬(p ∨ q) → ¬p ∧ ¬q := by sorry

-- difficulty: 3
theorem demorgan_not_or_rev (p q : Prop) : ¬p ∧ ¬q → ¬(p ∨ q) := by sorry

-- difficulty: 4
theorem demorgan_not_or_iff (p q : Prop) : ¬(p ∨ q) ↔ ¬p ∧ ¬q := by sorry

-- difficulty: 3
theorem demorgan_not_and_of_or (p q : Prop) : ¬p ∨ ¬q → ¬(p ∧ q) := by sorry

-- difficulty: 4
theorem demorgan_not_or_three (p q r : Prop) : ¬(p ∨ q ∨ r) → ¬p ∧ ¬q ∧ ¬r := by sorry

-- difficulty: 4
theorem demorgan_not_and_three (p q r : Prop) : ¬p ∨ ¬q ∨ ¬r → ¬(p ∧ q ∧ r) := by sorry

-- difficulty: 2
theorem demorgan_imp_not (p q : Prop) : (p → ¬q) → ¬(p ∧ q) := by sorry

-- difficulty: 2
theorem demorgan_not_and_imp (p q : Prop) : ¬(p ∧ q) → p → ¬q := by sorry

-- difficulty: 3
theorem demorgan_not_imp_of_and (p q : Prop) : p ∧ ¬q → ¬(p → q) := by sorry

-- difficulty: 3
theorem demorgan_not_or_imp (p q r : Prop) : ¬(p ∨ q) → p → r := by sorry
