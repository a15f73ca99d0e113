-- cryo bundled suite: equality (rfl, symmetry and transitivity through hypotheses, rewriting with a hypothesis)
-- Lean 4 core (no Mathlib). Every theorem is stated with `:= by sorry`; the prover's job is to replace it.
-- The `-- difficulty: N` line above a theorem grades it from 1 (one tactic) to 5 (deep).

-- difficulty: 1
theorem eq_refl_nat (a : Nat) : a = a := by sorry

-- difficulty: 1
theorem eq_hyp (a b : Nat) (h : a = b) : a = b := by sorry

-- difficulty: 1
theorem eq_symm_int (a b : Int) : a = b → b = a := by sorry

-- difficulty: 2
theorem eq_trans_nat (x y z : Nat) : x = y → y = z → x = z := by sorry

-- difficulty: 2
theorem eq_trans_symm (x y z : Nat) : x = y → z = y → x = z := by sorry

-- difficulty: 2
theorem eq_congr_add (a b c : Nat) : a = b → a + c = b + c := by sorry

-- difficulty: 2
theorem eq_congr_fun (f : Nat → Nat) (a b : Nat) : a = b → f a = f b := by sorry

-- difficulty: 3
theorem eq_chain_back (a b c d : Int) : a = b → c = b → d = c → a = d := by sorry

-- difficulty: 3
theorem eq_subst_prop (p : Nat → Prop) (a b : Nat) : a = b → p a → p b := by sorry

-- difficulty: 3
theorem eq_subst_symm (p : Int → Prop) (a b : Int) : a = b → p b → p a := by sorry

-- difficulty: 4
theorem eq_congr_left (a b c : Nat) (h : a = b) : c + a = c + b := by sorry

-- difficulty: 4
theorem eq_trans_4 (a b c d e : Nat) : a = b → b = c → c = d → d = e → a = e := by sorry

-- difficulty: 5
theorem eq_fun_chain (f : Nat → Nat) (a b c : Nat) : a = b → b = c → f c = f a := by sorry

-- difficulty: 5
theorem eq_mixed_chain (a b c d : Nat) : b = a → c = b → c = d → a = d := by sorry
