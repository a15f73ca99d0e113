"""The core declarations every environment starts with (what Lean's `Init` provides for the fragment)."""

from __future__ import annotations

# (name, signature, kind).  Binder names matter: `apply` tags new goals with them.
CORE_SIGNATURES = r"""
True : Prop
False : Prop
True.intro : True
And : Prop → Prop → Prop
Or : Prop → Prop → Prop
Iff : Prop → Prop → Prop
Exists : ∀ {α : Sort u}, (α → Prop) → Prop
Eq : ∀ {α : Sort u}, α → α → Prop
Nat : Type
Int : Type
Bool : Type
Unit : Type
Unit.unit : Unit
Bool.true : Bool
Bool.false : Bool
Nat.zero : Nat
Nat.succ : ∀ (n : Nat), Nat
Int.natAbs : ∀ (m : Int), Nat
Int.ofNat : ∀ (n : Nat), Int
Int.toNat : ∀ (m : Int), Nat
Nat.pred : ∀ (n : Nat), Nat
HAdd.hAdd : ∀ {α : Type}, α → α → α
HSub.hSub : ∀ {α : Type}, α → α → α
HMul.hMul : ∀ {α : Type}, α → α → α
HDiv.hDiv : ∀ {α : Type}, α → α → α
HMod.hMod : ∀ {α : Type}, α → α → α
HPow.hPow : ∀ {α : Type}, α → Nat → α
Neg.neg : ∀ {α : Type}, α → α
LT.lt : ∀ {α : Type}, α → α → Prop
LE.le : ∀ {α : Type}, α → α → Prop
And.intro : ∀ {a b : Prop} (left : a) (right : b), a ∧ b
And.left : ∀ {a b : Prop} (self : a ∧ b), a
And.right : ∀ {a b : Prop} (self : a ∧ b), b
Or.inl : ∀ {a b : Prop} (h : a), a ∨ b
Or.inr : ∀ {a b : Prop} (h : b), a ∨ b
Or.elim : ∀ {a b c : Prop} (h : a ∨ b) (left : a → c) (right : b → c), c
Iff.intro : ∀ {a b : Prop} (mp : a → b) (mpr : b → a), a ↔ b
Iff.mp : ∀ {a b : Prop} (self : a ↔ b), a → b
Iff.mpr : ∀ {a b : Prop} (self : a ↔ b), b → a
Exists.intro : ∀ {α : Sort u} {p : α → Prop} (w : α) (h : p w), Exists p
Exists.elim : ∀ {α : Sort u} {p : α → Prop} {b : Prop} (h₁ : Exists p) (h₂ : ∀ (a : α), p a → b), b
False.elim : ∀ {C : Sort u} (h : False), C
absurd : ∀ {a : Prop} {b : Sort v} (h₁ : a) (h₂ : ¬a), b
Eq.refl : ∀ {α : Sort u} (a : α), a = a
rfl : ∀ {α : Sort u} {a : α}, a = a
Eq.symm : ∀ {α : Sort u} {a b : α} (h : a = b), b = a
Eq.trans : ∀ {α : Sort u} {a b c : α} (h₁ : a = b) (h₂ : b = c), a = c
Eq.subst : ∀ {α : Sort u} {motive : α → Prop} {a b : α} (h₁ : a = b) (h₂ : motive a), motive b
Eq.mpr : ∀ {α β : Sort u} (h : α = β) (b : β), α
Eq.mp : ∀ {α β : Sort u} (h : α = β) (a : α), β
congrArg : ∀ {α : Sort u} {β : Sort v} {a₁ a₂ : α} (f : α → β) (h : a₁ = a₂), f a₁ = f a₂
congrFun : ∀ {α : Sort u} {β : Sort v} {f g : α → β} (h : f = g) (a : α), f a = g a
propext : ∀ {a b : Prop} (h : a ↔ b), a = b
Classical.em : ∀ (p : Prop), p ∨ ¬p
Classical.byContradiction : ∀ {p : Prop} (h : ¬p → False), p
Nat.casesOn : ∀ {motive : Nat → Sort u} (t : Nat) (zero : motive 0) (succ : ∀ (n : Nat), motive (n + 1)), motive t
Nat.rec : ∀ {motive : Nat → Sort u} (zero : motive 0) (succ : ∀ (n : Nat), motive n → motive (n + 1)) (t : Nat), motive t
Nat.lt_of_lt_of_le : ∀ {n m k : Nat}, n < m → m ≤ k → n < k
Nat.lt_of_le_of_lt : ∀ {n m k : Nat}, n ≤ m → m < k → n < k
Int.lt_of_lt_of_le : ∀ {a b c : Int}, a < b → b ≤ c → a < c
Int.lt_of_le_of_lt : ∀ {a b c : Int}, a ≤ b → b < c → a < c
Nat.le_of_eq : ∀ {n m : Nat}, n = m → n ≤ m
Int.le_trans : ∀ {a b c : Int}, a ≤ b → b ≤ c → a ≤ c
Int.lt_trans : ∀ {a b c : Int}, a < b → b < c → a < c
Nat.succ_le_succ : ∀ {n m : Nat}, n ≤ m → n + 1 ≤ m + 1
Nat.add_succ : ∀ (n m : Nat), n + (m + 1) = n + m + 1
Nat.succ_add : ∀ (n m : Nat), n + 1 + m = n + m + 1
Bool.casesOn : ∀ {motive : Bool → Sort u} (t : Bool) (false : motive Bool.false) (true : motive Bool.true), motive t
Iff.refl : ∀ (a : Prop), a ↔ a
id : ∀ {α : Sort u} (a : α), α
trivial : True
Nat.add_comm : ∀ (n m : Nat), n + m = m + n
Nat.add_assoc : ∀ (n m k : Nat), n + m + k = n + (m + k)
Nat.mul_comm : ∀ (n m : Nat), n * m = m * n
Nat.mul_assoc : ∀ (n m k : Nat), n * m * k = n * (m * k)
Nat.add_zero : ∀ (n : Nat), n + 0 = n
Nat.zero_add : ∀ (n : Nat), 0 + n = n
Nat.mul_one : ∀ (n : Nat), n * 1 = n
Nat.one_mul : ∀ (n : Nat), 1 * n = n
Nat.mul_zero : ∀ (n : Nat), n * 0 = 0
Nat.zero_mul : ∀ (n : Nat), 0 * n = 0
Nat.left_distrib : ∀ (n m k : Nat), n * (m + k) = n * m + n * k
Nat.right_distrib : ∀ (n m k : Nat), (n + m) * k = n * k + m * k
Nat.succ_ne_zero : ∀ (n : Nat), n + 1 ≠ 0
Nat.le_refl : ∀ (n : Nat), n ≤ n
Nat.le_trans : ∀ {n m k : Nat}, n ≤ m → m ≤ k → n ≤ k
Nat.lt_irrefl : ∀ (n : Nat), ¬n < n
Nat.lt_trans : ∀ {n m k : Nat}, n < m → m < k → n < k
Nat.le_of_lt : ∀ {n m : Nat}, n < m → n ≤ m
Nat.lt_succ_self : ∀ (n : Nat), n < n + 1
Nat.zero_le : ∀ (n : Nat), 0 ≤ n
Nat.le_add_right : ∀ (n k : Nat), n ≤ n + k
Nat.add_right_comm : ∀ (n m k : Nat), n + m + k = n + k + m
Int.add_comm : ∀ (a b : Int), a + b = b + a
Int.add_assoc : ∀ (a b c : Int), a + b + c = a + (b + c)
Int.mul_comm : ∀ (a b : Int), a * b = b * a
Int.mul_assoc : ∀ (a b c : Int), a * b * c = a * (b * c)
Int.add_zero : ∀ (a : Int), a + 0 = a
Int.zero_add : ∀ (a : Int), 0 + a = a
Int.mul_one : ∀ (a : Int), a * 1 = a
Int.one_mul : ∀ (a : Int), 1 * a = a
Int.le_refl : ∀ (a : Int), a ≤ a
Int.lt_irrefl : ∀ (a : Int), ¬a < a
Int.add_left_neg : ∀ (a : Int), -a + a = 0
Int.neg_neg : ∀ (a : Int), - -a = a
Int.natAbs_neg : ∀ (a : Int), (-a).natAbs = a.natAbs
And.comm : ∀ {a b : Prop}, a ∧ b ↔ b ∧ a
Or.comm : ∀ {a b : Prop}, a ∨ b ↔ b ∨ a
and_comm : ∀ {a b : Prop}, a ∧ b ↔ b ∧ a
or_comm : ∀ {a b : Prop}, a ∨ b ↔ b ∨ a
And.symm : ∀ {a b : Prop}, a ∧ b → b ∧ a
Or.symm : ∀ {a b : Prop}, a ∨ b → b ∨ a
not_not : ∀ {a : Prop}, ¬¬a ↔ a
mt : ∀ {a b : Prop}, (a → b) → ¬b → ¬a
Not.elim : ∀ {a : Prop} {α : Sort u} (H1 : ¬a) (H2 : a), α
Or.resolve_left : ∀ {a b : Prop} (h : a ∨ b) (na : ¬a), b
Or.resolve_right : ∀ {a b : Prop} (h : a ∨ b) (nb : ¬b), a
Iff.symm : ∀ {a b : Prop} (h : a ↔ b), b ↔ a
Iff.trans : ∀ {a b c : Prop} (h₁ : a ↔ b) (h₂ : b ↔ c), a ↔ c
Ne.symm : ∀ {α : Sort u} {a b : α} (h : a ≠ b), b ≠ a
Classical.not_not : ∀ {a : Prop}, ¬¬a ↔ a
"""

# Definitions that unfold (name, signature, value).
CORE_DEFINITIONS = r"""
Not : Prop → Prop := fun (a : Prop) => a → False
Ne : ∀ {α : Sort u}, α → α → Prop := fun {α : Sort u} (a b : α) => a = b → False
GT.gt : ∀ {α : Type}, α → α → Prop := fun {α : Type} (a b : α) => b < a
GE.ge : ∀ {α : Type}, α → α → Prop := fun {α : Type} (a b : α) => b ≤ a
"""
