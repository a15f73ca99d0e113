-- cryo bundled suite: Nat/Int arithmetic facts stated by core lemmas (exact / apply / rw with a lemma)
-- Lean 4 core (no Mathlib). Every theorem is stated with `:= by sorry`; the prover's job is to replace it.
-- The `-- difficulty: N` line above a theorem grades it from 1 (one tactic) to 5 (deep).

-- difficulty: 1
theorem arith_lit_add : 2 + 3 = 5 := by sorry

-- difficulty: 1
theorem arith_add_comm (a b : Nat) : a + b = b + a := by sorry

-- difficulty: 1
theorem arith_add_zero (n : Nat) : n + 0 = n := by sorry

-- difficulty: 1
theorem arith_int_mul_comm (a b : Int) : a * b = b * a := by sorry

-- difficulty: 2
theorem arith_add_assoc (a b c : Nat) : a + b + c = a + (b + c) := by sorry

-- difficulty: 2
theorem arith_le_refl (n : Nat) : n ≤ n := by sorry

-- difficulty: 2
theorem arith_lt_succ (n : Nat) : n < n + 1 := by sorry

-- difficulty: 2
theorem arith_le_trans (a b c : Nat) : a ≤ b → b ≤ c → a ≤ c := by sorry

-- difficulty: 3
theorem arith_lt_of_lt_of_le (a b c : Nat) : a < b → b ≤ c → a < c := by sorry

-- difficulty: 3
theorem arith_int_lt_trans (a b c : Int) : a < b → b < c → a < c := by sorry

-- difficulty: 3
theorem arith_zero_add_swap (n : Nat) : 0 + n = n + 0 := by sorry

-- difficulty: 4
theorem arith_add_comm_hyp (a b c : Nat) : a + b = c → b + a = c := by sorry

-- difficulty: 4
theorem arith_mul_comm_hyp (a b c : Nat) : c = a * b → c = b * a := by sorry

-- difficulty: 5
theorem arith_add_right_comm (a b c : Nat) : a + b + c = a + c + b := by sorry

-- difficulty: 5
theorem arith_int_add_comm_chain (a b c : Int) : a + b = c → c = b + a := by sorry
