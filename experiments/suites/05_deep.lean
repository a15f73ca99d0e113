-- cryo bundled suite: deep mixtures of the families above
-- Lean 4 core (no Mathlib). Every theorem is stated with `:= by sorry`; the prover's job is to replace it.
-- The `-- difficulty: N` line above a theorem grades it from 1 (one tactic) to 5 (deep).

-- difficulty: 4
theorem deep_and_imp_chain (p q r s : Prop) : (p → q) → (q → r) → (r → s) → p → q ∧ r ∧ s := by sorry

-- difficulty: 4
theorem deep_or_cases_chain (p q r s : Prop) : (p → s) → (q → s) → (r → s) → p ∨ q ∨ r → s := by sorry

-- difficulty: 5
theorem deep_distrib_three (p q r s : Prop) : p ∧ (q ∨ r ∨ s) → p ∧ q ∨ p ∧ r ∨ p ∧ s := by sorry

-- difficulty: 4
theorem deep_comm_four (p q r s : Prop) : p ∧ q ∧ r ∧ s → s ∧ r ∧ q ∧ p := by sorry

-- difficulty: 5
theorem deep_or_comm_four (p q r s : Prop) : p ∨ q ∨ r ∨ s → s ∨ r ∨ q ∨ p := by sorry

-- difficulty: 5
theorem deep_demorgan_four (p q r s : Prop) : ¬(p ∨ q ∨ r ∨ s) → ¬p ∧ ¬q ∧ ¬r ∧ ¬s := by sorry

-- difficulty: 4
theorem deep_eq_symm_chain (a b c d : Nat) : a = b → c = b → c = d → d = a := by sorry

-- difficulty: 4
theorem deep_eq_and (a b c : Nat) : a = b ∧ b = c → c = a := by sorry

-- difficulty: 4
theorem deep_eq_or (a b c : Nat) : a = b ∨ a = c → b = a ∨ c = a := by sorry

-- difficulty: 5
theorem deep_iff_and_self (p q : Prop) : (p ↔ p ∧ q) ↔ (p → q) := by sorry

-- difficulty: 5
theorem deep_iff_or_self (p q : Prop) : (p ↔ p ∨ q) ↔ (q → p) := by sorry

-- difficulty: 4
theorem deep_imp_distrib_or (p q r : Prop) : (p → q) ∨ (p → r) → p → q ∨ r := by sorry

-- difficulty: 5
theorem deep_and_or_swap (p q r s : Prop) : (p ∨ q) ∧ (r ∨ s) → (p ∧ r ∨ p ∧ s) ∨ (q ∧ r ∨ q ∧ s) := by sorry

-- difficulty: 4
theorem deep_contra_chain (p q r : Prop) : (p → q) → (q → r) → ¬r → ¬p := by sorry

-- difficulty: 5
theorem deep_not_not_and (p q : Prop) : ¬¬(p ∧ q) → ¬¬p ∧ ¬¬q := by sorry
