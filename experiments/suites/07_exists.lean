-- cryo bundled suite: existentials (a witness taken from the hypotheses' and the goal's terms)
-- Lean 4 core (no Mathlib). Every theorem is stated with `:= by sorry`; the prover's job is to replace it.
-- The `-- difficulty: N` line above a theorem grades it from 1 (one tactic) to 5 (deep).

-- difficulty: 1
theorem exists_of_two (p : Nat → Prop) : p 2 → ∃ n, p n := by sorry

-- difficulty: 1
theorem exists_hyp (p : Nat → Prop) (a : Nat) (h : p a) : ∃ x, p x := by sorry

-- difficulty: 1
theorem exists_eq_self (a : Nat) : ∃ x, x = a := by sorry

-- difficulty: 2
theorem exists_and_intro (p q : Nat → Prop) (a : Nat) : p a → q a → ∃ x, p x ∧ q x := by sorry

-- difficulty: 2
theorem exists_of_forall_imp (p q : Nat → Prop) : (∀ n, p n → q n) → p 0 → ∃ n, q n := by sorry

-- difficulty: 2
theorem exists_int (p : Int → Prop) (a : Int) : p a → ∃ x, p x := by sorry

-- difficulty: 3
theorem exists_same (p : Nat → Prop) : (∃ n, p n) → ∃ m, p m := by sorry

-- difficulty: 3
theorem exists_and_left (p q : Nat → Prop) : (∃ n, p n ∧ q n) → ∃ n, p n := by sorry

-- difficulty: 3
theorem exists_or_intro (p q : Int → Prop) (a : Int) : p a ∨ q a → ∃ x, p x ∨ q x := by sorry

-- difficulty: 4
theorem exists_and_swap (p q : Nat → Prop) : (∃ n, p n ∧ q n) → ∃ n, q n ∧ p n := by sorry

-- difficulty: 4
theorem exists_of_forall (p : Nat → Prop) : (∀ n, p n) → ∃ n, p n := by sorry

-- difficulty: 5
theorem exists_succ (a : Nat) : ∃ b, b = a + 1 := by sorry

-- difficulty: 5
theorem exists_mono (p q : Nat → Prop) : (∀ n, p n → q n) → (∃ n, p n) → ∃ n, q n := by sorry
