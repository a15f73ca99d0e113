-- cryo bundled suite: basics (one or two tactics)
-- Lean 4 core (no Mathlib). Every theorem is stated with `:= by sorry`; the prover's job is to replace it.
-- The `-- difficulty: N` line above a theorem grades it from 1 (one tactic) to 5 (deep).

-- difficulty: 1
theorem basic_id (p : Prop) : p → p := by sorry

-- difficulty: 1
theorem basic_true : True := by sorry

-- difficulty: 1
theorem basic_false_elim (p : Prop) : False → p := by sorry

-- difficulty: 1
theorem basic_const (p q : Prop) : p → q → p := by sorry

-- difficulty: 1
theorem basic_const_right (p q : Prop) : p → q → q := by sorry

-- difficulty: 1
theorem basic_modus_ponens (p q : Prop) : p → (p → q) → q := by sorry

-- difficulty: 1
theorem basic_and_left (p q : Prop) : p ∧ q → p := by sorry

-- difficulty: 1
theorem basic_and_right (p q : Prop) : p ∧ q → q := by sorry

-- difficulty: 1
theorem basic_and_intro (p q : Prop) : p → q → p ∧ q := by sorry

-- difficulty: 1
theorem basic_or_inl (p q : Prop) : p → p ∨ q := by sorry

-- difficulty: 1
theorem basic_or_inr (p q : Prop) : q → p ∨ q := by sorry

-- difficulty: 1
theorem basic_iff_refl (p : Prop) : p ↔ p := by sorry

-- difficulty: 1
theorem basic_and_self (p : Prop) : p → p ∧ p := by sorry

-- difficulty: 2
theorem basic_or_self (p : Prop) : p ∨ p → p := by sorry

-- difficulty: 1
theorem basic_true_intro (p : Prop) : p → True := by sorry

-- difficulty: 1
theorem basic_eq_refl (a : Nat) : a = a := by sorry

-- difficulty: 1
theorem basic_eq_symm (a b : Nat) : a = b → b = a := by sorry

-- difficulty: 2
theorem basic_eq_trans (a b c : Nat) : a = b → b = c → a = c := by sorry

-- difficulty: 2
theorem basic_imp_trans (p q r : Prop) : (p → q) → (q → r) → p → r := by sorry

-- difficulty: 1
theorem basic_not_false  : ¬False := by sorry

-- difficulty: 2
theorem basic_absurd (p q : Prop) : p → ¬p → q := by sorry

-- difficulty: 1
theorem basic_and_true (p : Prop) : p → p ∧ True := by sorry
