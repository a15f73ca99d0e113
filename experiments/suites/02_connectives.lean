-- cryo bundled suite: commutativity, associativity, distributivity, currying
-- Lean 4 core (no Mathlib). Every theorem is stated with `:= by sorry`; the prover's job is to replace it.
-- The `-- difficulty: N` line above a theorem grades it from 1 (one tactic) to 5 (deep).

-- difficulty: 2
theorem comm_and (p q : Prop) : p ∧ q → q ∧ p := by sorry

-- difficulty: 2
theorem comm_or (p q : Prop) : p ∨ q → q ∨ p := by sorry

-- difficulty: 3
theorem comm_and_iff (p q : Prop) : p ∧ q ↔ q ∧ p := by sorry

-- difficulty: 3
theorem comm_or_iff (p q : Prop) : p ∨ q ↔ q ∨ p := by sorry

-- difficulty: 2
theorem comm_iff (p q : Prop) : (p ↔ q) → (q ↔ p) := by sorry

-- difficulty: 3
theorem comm_and_three (p q r : Prop) : p ∧ q ∧ r → r ∧ q ∧ p := by sorry

-- difficulty: 3
theorem comm_or_three (p q r : Prop) : p ∨ q ∨ r → r ∨ q ∨ p := by sorry

-- difficulty: 2
theorem assoc_and_lr (p q r : Prop) : (p ∧ q) ∧ r → p ∧ q ∧ r := by sorry

-- difficulty: 2
theorem assoc_and_rl (p q r : Prop) : p ∧ q ∧ r → (p ∧ q) ∧ r := by sorry

-- difficulty: 3
theorem assoc_or_lr (p q r : Prop) : (p ∨ q) ∨ r → p ∨ q ∨ r := by sorry

-- difficulty: 3
theorem assoc_or_rl (p q r : Prop) : p ∨ q ∨ r → (p ∨ q) ∨ r := by sorry

-- difficulty: 3
theorem assoc_and_iff (p q r : Prop) : (p ∧ q) ∧ r ↔ p ∧ q ∧ r := by sorry

-- difficulty: 4
theorem assoc_or_iff (p q r : Prop) : (p ∨ q) ∨ r ↔ p ∨ q ∨ r := by sorry

-- difficulty: 3
theorem distrib_and_or (p q r : Prop) : p ∧ (q ∨ r) → p ∧ q ∨ p ∧ r := by sorry

-- difficulty: 3
theorem distrib_and_or_rev (p q r : Prop) : p ∧ q ∨ p ∧ r → p ∧ (q ∨ r) := by sorry

-- difficulty: 3
theorem distrib_or_and (p q r : Prop) : p ∨ q ∧ r → (p ∨ q) ∧ (p ∨ r) := by sorry

-- difficulty: 4
theorem distrib_or_and_rev (p q r : Prop) : (p ∨ q) ∧ (p ∨ r) → p ∨ q ∧ r := by sorry

-- difficulty: 4
theorem distrib_and_or_iff (p q r : Prop) : p ∧ (q ∨ r) ↔ p ∧ q ∨ p ∧ r := by sorry

-- difficulty: 5
theorem distrib_or_and_iff (p q r : Prop) : p ∨ q ∧ r ↔ (p ∨ q) ∧ (p ∨ r) := by sorry

-- difficulty: 3
theorem distrib_and_or_right (p q r : Prop) : (p ∨ q) ∧ r → p ∧ r ∨ q ∧ r := by sorry

-- difficulty: 3
theorem distrib_imp_and (p q r : Prop) : (p → q ∧ r) → (p → q) ∧ (p → r) := by sorry

-- difficulty: 3
theorem distrib_imp_and_rev (p q r : Prop) : (p → q) ∧ (p → r) → p → q ∧ r := by sorry

-- difficulty: 3
theorem distrib_or_imp (p q r : Prop) : (p ∨ q → r) → (p → r) ∧ (q → r) := by sorry

-- difficulty: 3
theorem distrib_or_imp_rev (p q r : Prop) : (p → r) ∧ (q → r) → p ∨ q → r := by sorry

-- difficulty: 2
theorem curry (p q r : Prop) : (p ∧ q → r) → p → q → r := by sorry

-- difficulty: 2
theorem uncurry (p q r : Prop) : (p → q → r) → p ∧ q → r := by sorry

-- difficulty: 4
theorem curry_iff (p q r : Prop) : (p ∧ q → r) ↔ (p → q → r) := by sorry

-- difficulty: 2
theorem swap_args (p q r : Prop) : (p → q → r) → q → p → r := by sorry

-- difficulty: 3
theorem or_elim_imp (p q r : Prop) : (p → r) → (q → r) → p ∨ q → r := by sorry

-- difficulty: 2
theorem and_or_absorb (p q : Prop) : p ∧ (p ∨ q) → p := by sorry

-- difficulty: 3
theorem or_and_absorb (p q : Prop) : p ∨ p ∧ q → p := by sorry

-- difficulty: 4
theorem iffs_trans (p q r : Prop) : (p ↔ q) → (q ↔ r) → (p ↔ r) := by sorry

-- difficulty: 5
theorem iffs_and_congr (p q r s : Prop) : (p ↔ q) → (r ↔ s) → (p ∧ r ↔ q ∧ s) := by sorry

-- difficulty: 5
theorem iffs_or_congr (p q r s : Prop) : (p ↔ q) → (r ↔ s) → (p ∨ r ↔ q ∨ s) := by sorry
