-- cryo bundled suite: implication, equality, conjunction, disjunction and iff chains of growing length
-- Lean 4 core (no Mathlib). Every theorem is stated with `:= by sorry`; the prover's job is to replace it.
-- The `-- difficulty: N` line above a theorem grades it from 1 (one tactic) to 5 (deep).

-- difficulty: 2
theorem imp_chain_2 (p1 p2 p3 : Prop) : (p1 → p2) → (p2 → p3) → p1 → p3 := by sorry

-- difficulty: 2
theorem imp_chain_3 (p1 p2 p3 p4 : Prop) : (p1 → p2) → (p2 → p3) → (p3 → p4) → p1 → p4 := by sorry

-- difficulty: 2
theorem imp_chain_4 (p1 p2 p3 p4 p5 : Prop) : (p1 → p2) → (p2 → p3) → (p3 → p4) → (p4 → p5) → p1 → p5 := by sorry

-- difficulty: 3
theorem imp_chain_5 (p1 p2 p3 p4 p5 p6 : Prop) : (p1 → p2) → (p2 → p3) → (p3 → p4) → (p4 → p5) → (p5 → p6) → p1 → p6 := by sorry

-- difficulty: 3
theorem imp_chain_6 (p1 p2 p3 p4 p5 p6 p7 : Prop) :
    (p1 → p2) → (p2 → p3) → (p3 → p4) → (p4 → p5) → (p5 → p6) → (p6 → p7) → p1 → p7 := by sorry

-- difficulty: 3
theorem imp_chain_7 (p1 p2 p3 p4 p5 p6 p7 p8 : Prop) :
    (p1 → p2) → (p2 → p3) → (p3 → p4) → (p4 → p5) → (p5 → p6) → (p6 → p7) → (p7 → p8) → p1 → p8 := by sorry

-- difficulty: 4
theorem imp_chain_8 (p1 p2 p3 p4 p5 p6 p7 p8 p9 : Prop) :
    (p1 → p2) → (p2 → p3) → (p3 → p4) → (p4 → p5) → (p5 → p6) → (p6 → p7) → (p7 → p8) → (p8 → p9) → p1 → p9 := by sorry

-- difficulty: 4
theorem imp_chain_9 (p1 p2 p3 p4 p5 p6 p7 p8 p9 p10 : Prop) :
    (p1 → p2) → (p2 → p3) → (p3 → p4) → (p4 → p5) → (p5 → p6) → (p6 → p7) → (p7 → p8) → (p8 → p9) → (p9 → p10) → p1 → p10 := by sorry

-- difficulty: 4
theorem imp_chain_10 (p1 p2 p3 p4 p5 p6 p7 p8 p9 p10 p11 : Prop) :
    (p1 → p2) → (p2 → p3) → (p3 → p4) → (p4 → p5) → (p5 → p6) → (p6 → p7) → (p7 → p8) → (p8 → p9) → (p9 → p10) → (p10 → p11) → p1 → p11 := by sorry

-- difficulty: 5
theorem imp_chain_11 (p1 p2 p3 p4 p5 p6 p7 p8 p9 p10 p11 p12 : Prop) :
    (p1 → p2) → (p2 → p3) → (p3 → p4) → (p4 → p5) → (p5 → p6) → (p6 → p7) → (p7 → p8) → (p8 → p9) → (p9 → p10) → (p10 → p11) → (p11 → p12) → p1 → p12 := by sorry

-- difficulty: 5
theorem imp_chain_12 (p1 p2 p3 p4 p5 p6 p7 p8 p9 p10 p11 p12 p13 : Prop) :
    (p1 → p2) → (p2 → p3) → (p3 → p4) → (p4 → p5) → (p5 → p6) → (p6 → p7) → (p7 → p8) → (p8 → p9) → (p9 → p10) → (p10 → p11) → (p11 → p12) → (p12 → p13) → p1 → p13 := by sorry

-- difficulty: 2
theorem eq_chain_2 (a1 a2 a3 : Nat) : a1 = a2 → a2 = a3 → a1 = a3 := by sorry

-- difficulty: 2
theorem eq_chain_3 (a1 a2 a3 a4 : Nat) : a1 = a2 → a2 = a3 → a3 = a4 → a1 = a4 := by sorry

-- difficulty: 2
theorem eq_chain_4 (a1 a2 a3 a4 a5 : Nat) : a1 = a2 → a2 = a3 → a3 = a4 → a4 = a5 → a1 = a5 := by sorry

-- difficulty: 3
theorem eq_chain_5 (a1 a2 a3 a4 a5 a6 : Nat) : a1 = a2 → a2 = a3 → a3 = a4 → a4 = a5 → a5 = a6 → a1 = a6 := by sorry

-- difficulty: 3
theorem eq_chain_6 (a1 a2 a3 a4 a5 a6 a7 : Nat) : a1 = a2 → a2 = a3 → a3 = a4 → a4 = a5 → a5 = a6 → a6 = a7 → a1 = a7 := by sorry

-- difficulty: 3
theorem eq_chain_7 (a1 a2 a3 a4 a5 a6 a7 a8 : Nat) :
    a1 = a2 → a2 = a3 → a3 = a4 → a4 = a5 → a5 = a6 → a6 = a7 → a7 = a8 → a1 = a8 := by sorry

-- difficulty: 4
theorem eq_chain_8 (a1 a2 a3 a4 a5 a6 a7 a8 a9 : Nat) :
    a1 = a2 → a2 = a3 → a3 = a4 → a4 = a5 → a5 = a6 → a6 = a7 → a7 = a8 → a8 = a9 → a1 = a9 := by sorry

-- difficulty: 4
theorem eq_chain_9 (a1 a2 a3 a4 a5 a6 a7 a8 a9 a10 : Nat) :
    a1 = a2 → a2 = a3 → a3 = a4 → a4 = a5 → a5 = a6 → a6 = a7 → a7 = a8 → a8 = a9 → a9 = a10 → a1 = a10 := by sorry

-- difficulty: 4
theorem eq_chain_10 (a1 a2 a3 a4 a5 a6 a7 a8 a9 a10 a11 : Nat) :
    a1 = a2 → a2 = a3 → a3 = a4 → a4 = a5 → a5 = a6 → a6 = a7 → a7 = a8 → a8 = a9 → a9 = a10 → a10 = a11 → a1 = a11 := by sorry

-- difficulty: 5
theorem eq_chain_11 (a1 a2 a3 a4 a5 a6 a7 a8 a9 a10 a11 a12 : Nat) :
    a1 = a2 → a2 = a3 → a3 = a4 → a4 = a5 → a5 = a6 → a6 = a7 → a7 = a8 → a8 = a9 → a9 = a10 → a10 = a11 → a11 = a12 → a1 = a12 := by sorry

-- difficulty: 5
theorem eq_chain_12 (a1 a2 a3 a4 a5 a6 a7 a8 a9 a10 a11 a12 a13 : Nat) :
    a1 = a2 → a2 = a3 → a3 = a4 → a4 = a5 → a5 = a6 → a6 = a7 → a7 = a8 → a8 = a9 → a9 = a10 → a10 = a11 → a11 = a12 → a12 = a13 → a1 = a13 := by sorry

-- difficulty: 2
theorem and_chain_rev_2 (p1 p2 : Prop) : p1 ∧ p2 → p2 ∧ p1 := by sorry

-- difficulty: 2
theorem and_chain_rev_3 (p1 p2 p3 : Prop) : p1 ∧ p2 ∧ p3 → p3 ∧ p2 ∧ p1 := by sorry

-- difficulty: 3
theorem and_chain_rev_4 (p1 p2 p3 p4 : Prop) : p1 ∧ p2 ∧ p3 ∧ p4 → p4 ∧ p3 ∧ p2 ∧ p1 := by sorry

-- difficulty: 3
theorem and_chain_rev_5 (p1 p2 p3 p4 p5 : Prop) : p1 ∧ p2 ∧ p3 ∧ p4 ∧ p5 → p5 ∧ p4 ∧ p3 ∧ p2 ∧ p1 := by sorry

-- difficulty: 4
theorem and_chain_rev_6 (p1 p2 p3 p4 p5 p6 : Prop) : p1 ∧ p2 ∧ p3 ∧ p4 ∧ p5 ∧ p6 → p6 ∧ p5 ∧ p4 ∧ p3 ∧ p2 ∧ p1 := by sorry

-- difficulty: 4
theorem and_chain_rev_7 (p1 p2 p3 p4 p5 p6 p7 : Prop) : p1 ∧ p2 ∧ p3 ∧ p4 ∧ p5 ∧ p6 ∧ p7 → p7 ∧ p6 ∧ p5 ∧ p4 ∧ p3 ∧ p2 ∧ p1 := by sorry

-- difficulty: 2
theorem or_chain_rev_2 (p1 p2 : Prop) : p1 ∨ p2 → p2 ∨ p1 := by sorry

-- difficulty: 2
theorem or_chain_rev_3 (p1 p2 p3 : Prop) : p1 ∨ p2 ∨ p3 → p3 ∨ p2 ∨ p1 := by sorry

-- difficulty: 3
theorem or_chain_rev_4 (p1 p2 p3 p4 : Prop) : p1 ∨ p2 ∨ p3 ∨ p4 → p4 ∨ p3 ∨ p2 ∨ p1 := by sorry

-- difficulty: 3
theorem or_chain_rev_5 (p1 p2 p3 p4 p5 : Prop) : p1 ∨ p2 ∨ p3 ∨ p4 ∨ p5 → p5 ∨ p4 ∨ p3 ∨ p2 ∨ p1 := by sorry

-- difficulty: 4
theorem or_chain_rev_6 (p1 p2 p3 p4 p5 p6 : Prop) : p1 ∨ p2 ∨ p3 ∨ p4 ∨ p5 ∨ p6 → p6 ∨ p5 ∨ p4 ∨ p3 ∨ p2 ∨ p1 := by sorry

-- difficulty: 1
theorem and_intro_chain_2 (p1 p2 : Prop) : p1 → p2 → p1 ∧ p2 := by sorry

-- difficulty: 2
theorem and_intro_chain_3 (p1 p2 p3 : Prop) : p1 → p2 → p3 → p1 ∧ p2 ∧ p3 := by sorry

-- difficulty: 2
theorem and_intro_chain_4 (p1 p2 p3 p4 : Prop) : p1 → p2 → p3 → p4 → p1 ∧ p2 ∧ p3 ∧ p4 := by sorry

-- difficulty: 2
theorem and_intro_chain_5 (p1 p2 p3 p4 p5 : Prop) : p1 → p2 → p3 → p4 → p5 → p1 ∧ p2 ∧ p3 ∧ p4 ∧ p5 := by sorry

-- difficulty: 3
theorem and_intro_chain_6 (p1 p2 p3 p4 p5 p6 : Prop) : p1 → p2 → p3 → p4 → p5 → p6 → p1 ∧ p2 ∧ p3 ∧ p4 ∧ p5 ∧ p6 := by sorry

-- difficulty: 3
theorem and_intro_chain_7 (p1 p2 p3 p4 p5 p6 p7 : Prop) : p1 → p2 → p3 → p4 → p5 → p6 → p7 → p1 ∧ p2 ∧ p3 ∧ p4 ∧ p5 ∧ p6 ∧ p7 := by sorry

-- difficulty: 1
theorem and_proj_chain_2 (p1 p2 : Prop) : p1 ∧ p2 → p2 := by sorry

-- difficulty: 2
theorem and_proj_chain_3 (p1 p2 p3 : Prop) : p1 ∧ p2 ∧ p3 → p3 := by sorry

-- difficulty: 2
theorem and_proj_chain_4 (p1 p2 p3 p4 : Prop) : p1 ∧ p2 ∧ p3 ∧ p4 → p4 := by sorry

-- difficulty: 2
theorem and_proj_chain_5 (p1 p2 p3 p4 p5 : Prop) : p1 ∧ p2 ∧ p3 ∧ p4 ∧ p5 → p5 := by sorry

-- difficulty: 3
theorem and_proj_chain_6 (p1 p2 p3 p4 p5 p6 : Prop) : p1 ∧ p2 ∧ p3 ∧ p4 ∧ p5 ∧ p6 → p6 := by sorry

-- difficulty: 3
theorem and_proj_chain_7 (p1 p2 p3 p4 p5 p6 p7 : Prop) : p1 ∧ p2 ∧ p3 ∧ p4 ∧ p5 ∧ p6 ∧ p7 → p7 := by sorry

-- difficulty: 1
theorem or_inj_chain_2 (p1 p2 : Prop) : p2 → p1 ∨ p2 := by sorry

-- difficulty: 2
theorem or_inj_chain_3 (p1 p2 p3 : Prop) : p3 → p1 ∨ p2 ∨ p3 := by sorry

-- difficulty: 2
theorem or_inj_chain_4 (p1 p2 p3 p4 : Prop) : p4 → p1 ∨ p2 ∨ p3 ∨ p4 := by sorry

-- difficulty: 2
theorem or_inj_chain_5 (p1 p2 p3 p4 p5 : Prop) : p5 → p1 ∨ p2 ∨ p3 ∨ p4 ∨ p5 := by sorry

-- difficulty: 3
theorem or_inj_chain_6 (p1 p2 p3 p4 p5 p6 : Prop) : p6 → p1 ∨ p2 ∨ p3 ∨ p4 ∨ p5 ∨ p6 := by sorry

-- difficulty: 3
theorem or_inj_chain_7 (p1 p2 p3 p4 p5 p6 p7 : Prop) : p7 → p1 ∨ p2 ∨ p3 ∨ p4 ∨ p5 ∨ p6 ∨ p7 := by sorry

-- difficulty: 3
theorem iff_chain_2 (p1 p2 p3 : Prop) : (p1 ↔ p2) → (p2 ↔ p3) → (p1 ↔ p3) := by sorry

-- difficulty: 3
theorem iff_chain_3 (p1 p2 p3 p4 : Prop) : (p1 ↔ p2) → (p2 ↔ p3) → (p3 ↔ p4) → (p1 ↔ p4) := by sorry

-- difficulty: 4
theorem iff_chain_4 (p1 p2 p3 p4 p5 : Prop) : (p1 ↔ p2) → (p2 ↔ p3) → (p3 ↔ p4) → (p4 ↔ p5) → (p1 ↔ p5) := by sorry

-- difficulty: 4
theorem iff_chain_5 (p1 p2 p3 p4 p5 p6 : Prop) : (p1 ↔ p2) → (p2 ↔ p3) → (p3 ↔ p4) → (p4 ↔ p5) → (p5 ↔ p6) → (p1 ↔ p6) := by sorry

-- difficulty: 5
theorem iff_chain_6 (p1 p2 p3 p4 p5 p6 p7 : Prop) :
    (p1 ↔ p2) → (p2 ↔ p3) → (p3 ↔ p4) → (p4 ↔ p5) → (p5 ↔ p6) → (p6 ↔ p7) → (p1 ↔ p7) := by sorry
