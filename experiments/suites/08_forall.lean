-- cryo bundled suite: universals (intro; specialising a hypothesis)
-- Lean 4 core (no Mathlib). Every theorem is stated with `:= by sorry`; the prover's job is to replace it.
-- The `-- difficulty: N` line above a theorem grades it from 1 (one tactic) to 5 (deep).

-- difficulty: 1
theorem forall_id (p : Nat → Prop) : (∀ n, p n) → ∀ n, p n := by sorry

-- difficulty: 1
theorem forall_inst (p : Nat → Prop) (h : ∀ n, p n) : p 5 := by sorry

-- difficulty: 2
theorem forall_and_right (p q : Nat → Prop) : (∀ n, p n ∧ q n) → ∀ n, q n := by sorry

-- difficulty: 2
theorem forall_and_left (p q : Nat → Prop) : (∀ n, p n ∧ q n) → ∀ n, p n := by sorry

-- difficulty: 2
theorem forall_imp_inst (p q : Nat → Prop) : (∀ n, p n → q n) → p 3 → q 3 := by sorry

-- difficulty: 3
theorem forall_and_intro (p q : Nat → Prop) : (∀ n, p n) → (∀ n, q n) → ∀ n, p n ∧ q n := by sorry

-- difficulty: 3
theorem forall_imp_chain (p q r : Nat → Prop) : (∀ n, p n → q n) → (∀ n, q n → r n) → ∀ n, p n → r n := by sorry

-- difficulty: 3
theorem forall_swap (r : Nat → Nat → Prop) : (∀ a b, r a b) → ∀ b a, r a b := by sorry

-- difficulty: 4
theorem forall_eq_symm (f g : Nat → Nat) : (∀ n, f n = g n) → ∀ n, g n = f n := by sorry

-- difficulty: 4
theorem forall_or_left (p q : Int → Prop) : (∀ n, p n) → ∀ n, p n ∨ q n := by sorry

-- difficulty: 5
theorem forall_exists_diag (r : Nat → Nat → Prop) : (∀ n, r n n) → ∀ n, ∃ m, r n m := by sorry

-- difficulty: 5
theorem forall_and_comm (p q : Nat → Prop) : (∀ n, p n ∧ q n) → ∀ n, q n ∧ p n := by sorry
