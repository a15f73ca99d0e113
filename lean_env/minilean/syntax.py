"""Lexer and parser for MiniLean's Lean 4 fragment: terms, tactics, commands, with source positions.

Positions are codepoint offsets into the parsed text; :class:`Source` turns them into (line, column) the way
Lean does (line 1-based, column 0-based codepoints).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from .errors import ParseError


class Source:
    """A text with its line starts, for offset -> (line, column) conversion."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.line_starts = [0]
        for i, ch in enumerate(text):
            if ch == "\n":
                self.line_starts.append(i + 1)

    def pos(self, offset: int) -> tuple[int, int]:
        i = bisect.bisect_right(self.line_starts, offset) - 1
        return i + 1, offset - self.line_starts[i]


# ---------------------------------------------------------------- lexer

@dataclass(slots=True)
class Token:
    kind: str  # 'ident' | 'num' | 'sym' | 'eof'
    text: str
    start: int
    end: int
    col: int
    first_on_line: bool


SYMBOLS = sorted(
    [":=", "=>", "->", "<->", "<;>", "▸", "↔", "→", "←", "<-", "∧", "∨", "¬", "∀", "∃", "λ", "⟨", "⟩", "(", ")",
     "[", "]", "{", "}", ",", ":", "=", "≠", "<=", ">=", "≤", "≥", "<", ">", "+", "-", "*", "/", "%", "^",
     "|", "·", ".", ";", "⊢", "!", "@", "$", "<|", "|>", "∘", "×", "/\\", "\\/", "#", "?", "∣", "'"],
    key=len, reverse=True)

SUBSCRIPTS = "₀₁₂₃₄₅₆₇₈₉ₐₑₒₓₔₕₖₗₘₙₚₛₜᵢᵣᵤᵥⱼ"
_NOT_IDENT_START = set("λΠΣ")


def _ident_start(ch: str) -> bool:
    if ch in _NOT_IDENT_START:
        return False
    return ch.isalpha() or ch == "_" or ch == "«"


def _ident_rest(ch: str) -> bool:
    if ch in _NOT_IDENT_START:
        return False
    return ch.isalnum() or ch in "_'!?✝⁰¹²³⁴⁵⁶⁷⁸⁹" or ch in SUBSCRIPTS


def tokenize(text: str) -> list[Token]:
    toks: list[Token] = []
    i, n = 0, len(text)
    line_start = 0
    new_line = True
    while i < n:
        ch = text[i]
        if ch == "\n":
            i += 1
            line_start = i
            new_line = True
            continue
        if ch in " \t\r":
            i += 1
            continue
        if text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if text.startswith("/-", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/-", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("-/", j):
                    depth, j = depth - 1, j + 2
                else:
                    if text[j] == "\n":
                        line_start = j + 1
                        new_line = True
                    j += 1
            if depth:
                raise ParseError("unterminated comment", i)
            i = j
            continue
        start = i
        col = i - line_start
        if _ident_start(ch):
            j = i
            while True:
                if text[j] == "«":
                    k = text.find("»", j)
                    if k < 0:
                        raise ParseError("unterminated identifier escape", j)
                    j = k + 1
                else:
                    j += 1
                while j < n and _ident_rest(text[j]):
                    j += 1
                if j + 1 < n and text[j] == "." and (_ident_start(text[j + 1]) or text[j + 1].isdigit()):
                    j += 1
                    if text[j].isdigit():
                        while j < n and text[j].isdigit():
                            j += 1
                        if not (j + 1 < n and text[j] == "." and (_ident_start(text[j + 1]) or text[j + 1].isdigit())):
                            break
                        j += 1
                        if text[j].isdigit():
                            continue
                    continue
                break
            toks.append(Token("ident", text[i:j], start, j, col, new_line))
            i = j
        elif ch.isdigit():
            j = i
            while j < n and text[j].isdigit():
                j += 1
            toks.append(Token("num", text[i:j], start, j, col, new_line))
            i = j
        else:
            for s in SYMBOLS:
                if text.startswith(s, i):
                    break
            else:
                toks.append(Token("bad", ch, start, i + 1, col, new_line))
                i += 1
                new_line = False
                continue
            j = i + len(s)
            if s == "?" and j < n and (text[j] == "_" or _ident_start(text[j])):
                k = j + 1
                while k < n and _ident_rest(text[k]):
                    k += 1
                toks.append(Token("hole", text[i:k], start, k, col, new_line))
                i = k
            else:
                toks.append(Token("sym", s, start, j, col, new_line))
                i = j
        new_line = False
    toks.append(Token("eof", "", n, n, 0, True))
    return toks


# ---------------------------------------------------------------- surface syntax

@dataclass(slots=True)
class Syn:
    kind: str
    start: int
    end: int
    args: tuple = ()
    data: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Syn({self.kind}, {self.args!r}, {self.data!r})"


@dataclass(slots=True)
class Binder:
    names: list[tuple[str, int, int]]  # (name, start, end)
    ty: Syn | None
    implicit: bool
    pattern: Syn | None = None  # `fun ⟨a, b⟩ => ...`: an anonymous-constructor pattern (one unnamed binder)


COMMAND_KEYWORDS = {"theorem", "lemma", "example", "def", "abbrev", "#check", "#eval", "#print", "open",
                    "import", "namespace", "section", "end", "variable", "set_option", "universe",
                    "instance", "noncomputable", "private", "protected", "@["}
KEYWORDS = {"sorry", "by", "fun", "have", "show", "from", "at", "with", "then", "else", "do", "let", "if", "match",
            "theorem", "example", "def", "abbrev", "import", "open", "namespace", "section", "end",
            "variable", "set_option", "universe", "instance", "in", "using", "calc", "Type", "Prop", "Sort"}
TACTIC_TERMINATORS = {")", "}", "]", "|", ";", "<;>", "⟩", ","}

BINOPS = {  # symbol -> (precedence, left arg prec, right arg prec, name)
    "→": (25, 26, 25), "->": (25, 26, 25),
    "↔": (20, 21, 21), "<->": (20, 21, 21),
    "∨": (30, 31, 30), "\\/": (30, 31, 30),
    "∧": (35, 36, 35), "/\\": (35, 36, 35),
    "=": (50, 51, 51), "≠": (50, 51, 51), "<": (50, 51, 51), ">": (50, 51, 51),
    "≤": (50, 51, 51), "<=": (50, 51, 51), "≥": (50, 51, 51), ">=": (50, 51, 51),
    "+": (65, 65, 66), "-": (65, 65, 66), "*": (70, 70, 71), "/": (70, 70, 71), "%": (70, 70, 71),
    "^": (75, 76, 75), "▸": (75, 76, 75),
    "$": (10, 11, 10), "<|": (10, 11, 10),
}
CANON = {"->": "→", "<->": "↔", "\\/": "∨", "/\\": "∧", "<=": "≤", ">=": "≥", "<|": "$"}
MAX_PREC = 1024


class Parser:
    def __init__(self, text: str, *, tactic_mode: bool = False) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.stop_col: int | None = None  # tokens first on a line at a column <= this end the current term
        self.tactic_mode = tactic_mode
        self.calc_mode = False  # a line starting with `_` (or at the steps' column) begins the next calc step
        self.calc_col: int | None = None
        self.calc_outer: int | None = None

    # -- token helpers
    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def advance(self) -> Token:
        t = self.toks[self.i]
        if t.kind != "eof":
            self.i += 1
        return t

    def prev_end(self) -> int:
        return self.toks[self.i - 1].end if self.i else 0

    def is_sym(self, s: str) -> bool:
        t = self.tok
        return t.kind == "sym" and t.text == s

    def is_kw(self, s: str) -> bool:
        t = self.tok
        return t.kind == "ident" and t.text == s

    def expect_sym(self, s: str, what: str | None = None) -> Token:
        if not self.is_sym(s):
            self.error_expected(f"'{s}'" if what is None else what)
        return self.advance()

    def error_expected(self, what: str):
        t = self.tok
        if t.kind == "eof":
            raise ParseError(f"unexpected end of input; expected {what}", t.start)
        if t.kind == "ident" and t.text not in KEYWORDS:
            raise ParseError(f"unexpected identifier; expected {what}", t.start, t.end)
        raise ParseError(f"unexpected token '{t.text}'; expected {what}", t.start, t.end)

    def broken_by_layout(self, t: Token | None = None) -> bool:
        t = t or self.tok
        return t.first_on_line and self.stop_col is not None and t.col <= self.stop_col

    def at_term_end(self) -> bool:
        t = self.tok
        if t.kind == "eof":
            return True
        if self.calc_mode and t.first_on_line:
            if t.kind == "ident" and t.text == "_":
                return True
            col = self.calc_col if self.calc_col is not None else self.calc_outer
            if col is not None and t.col <= col:
                return True
        if self.broken_by_layout(t):
            return True
        if t.kind == "ident" and t.text in COMMAND_KEYWORDS and t.first_on_line:
            return True
        if t.kind == "sym" and t.text in ("#", "@[") and t.first_on_line:
            return True
        return False

    # -- terms
    def term(self, prec: int = 0) -> Syn:
        left = self.leading()
        while True:
            if self.at_term_end():
                return left
            t = self.tok
            if t.kind == "sym" and t.text in BINOPS:
                p, lp, rp = BINOPS[t.text]
                if p < prec:
                    return left
                if lp < prec:  # non-associative chain: stop
                    return left
                self.advance()
                right = self.term(rp)
                op = CANON.get(t.text, t.text)
                if op == "$":
                    left = Syn("app", left.start, right.end, (left, [right]))
                else:
                    left = Syn("binop", left.start, right.end, (op, left, right))
                continue
            if t.kind == "sym" and t.text == "∘" and prec <= 90:
                self.advance()
                right = self.term(90)
                left = Syn("binop", left.start, right.end, ("∘", left, right))
                continue
            if MAX_PREC > prec and self.starts_argument():
                args = []
                while not self.at_term_end() and self.starts_argument():
                    args.append(self.argument())
                left = Syn("app", left.start, args[-1].end, (left, args))
                continue
            return left

    def starts_argument(self) -> bool:
        t = self.tok
        if t.kind in ("num", "hole"):
            return True
        if t.kind == "ident":
            return t.text not in ("fun", "by", "at", "with", "from", "then", "else", "do", "in", "using",
                                  "generalizing") and t.text not in COMMAND_KEYWORDS
        if t.kind == "sym":
            return t.text in ("(", "⟨", "@", "¬") and not (t.text == "¬")
        return False

    def argument(self) -> Syn:
        if self.is_kw("fun"):
            return self.leading()
        return self.leading(arg=True)

    def leading(self, arg: bool = False) -> Syn:
        t = self.tok
        if self.at_term_end() and t.kind == "eof":
            self.error_expected("term")
        if t.kind == "num":
            self.advance()
            node = Syn("num", t.start, t.end, (int(t.text),))
            return self.postfix(node)
        if t.kind == "hole":
            self.advance()
            return Syn("synth_hole", t.start, t.end, (t.text[1:],))
        if t.kind == "ident":
            if t.text in ("fun", "λ"):
                return self.lambda_()
            if t.text == "by":
                return self.by_block()
            if t.text == "show" and not arg:
                self.advance()
                ty = self.term()
                if self.is_kw("from"):
                    self.advance()
                    val = self.term()
                    return Syn("show", t.start, val.end, (ty, val))
                if self.is_kw("by"):
                    val = self.by_block()
                    return Syn("show", t.start, val.end, (ty, val))
                return Syn("show", t.start, ty.end, (ty, None))
            if t.text == "have" and not arg:
                return self.have_term()
            if t.text == "calc" and not arg:
                return self.calc()
            if t.text in ("at", "with", "from", "then", "else", "using") or t.text in COMMAND_KEYWORDS:
                self.error_expected("term")
            self.advance()
            if t.text == "_":
                return Syn("hole", t.start, t.end)
            if t.text == "sorry":
                return Syn("sorry", t.start, t.end)
            node = Syn("ident", t.start, t.end, (t.text,))
            return self.postfix(node)
        if t.kind == "sym":
            s = t.text
            if s == "λ":
                return self.lambda_()
            if s == "(":
                self.advance()
                if self.is_sym(")"):
                    e = self.advance()
                    return self.postfix(Syn("unit", t.start, e.end))
                saved = self.stop_col
                self.stop_col = None
                saved_calc, self.calc_mode = self.calc_mode, False
                inner = self.term()
                self.calc_mode = saved_calc
                if self.is_sym(":"):
                    self.advance()
                    ty = self.term()
                    self.stop_col = saved
                    e = self.expect_sym(")")
                    return self.postfix(Syn("ascribe", t.start, e.end, (inner, ty)))
                if self.is_sym(","):
                    items = [inner]
                    while self.is_sym(","):
                        self.advance()
                        items.append(self.term())
                    self.stop_col = saved
                    e = self.expect_sym(")")
                    return self.postfix(Syn("tuple", t.start, e.end, (items,)))
                self.stop_col = saved
                e = self.expect_sym(")")
                return self.postfix(Syn("paren", t.start, e.end, (inner,)))
            if s == "⟨":
                self.advance()
                saved = self.stop_col
                self.stop_col = None
                items = []
                if not self.is_sym("⟩"):
                    items.append(self.term())
                    while self.is_sym(","):
                        self.advance()
                        items.append(self.term())
                self.stop_col = saved
                e = self.expect_sym("⟩")
                return self.postfix(Syn("anon", t.start, e.end, (items,)))
            if s == "¬" and not arg:
                self.advance()
                a = self.term(40)
                return Syn("not", t.start, a.end, (a,))
            if s == "-" and not arg:
                self.advance()
                a = self.term(75)
                return Syn("neg", t.start, a.end, (a,))
            if s in ("∀", "∃") and not arg:
                self.advance()
                binders = self.binders(allow_bare_typed=True)
                self.expect_sym(",")
                body = self.term()
                return Syn("forall" if s == "∀" else "exists", t.start, body.end, (binders, body))
            if s == "@":
                self.advance()
                nt = self.tok
                if nt.kind != "ident":
                    self.error_expected("identifier")
                self.advance()
                return Syn("explicit", t.start, nt.end, (nt.text,))
            if s == "·" and not arg:
                self.advance()
                return Syn("cdot", t.start, t.end)
        self.error_expected("term")

    def postfix(self, node: Syn) -> Syn:
        while self.is_sym(".") and self.tok.start == node.end:
            self.advance()
            f = self.tok
            if f.kind not in ("ident", "num") or f.start != node.end + 1:
                self.error_expected("field")
            self.advance()
            node = Syn("proj", node.start, f.end, (node, f.text))
        return node

    def binder_names(self) -> list[tuple[str, int, int]]:
        names = []
        while self.tok.kind == "ident" and self.tok.text not in ("fun", "by"):
            t = self.advance()
            names.append((t.text, t.start, t.end))
        return names

    def binders(self, *, allow_bare_typed: bool) -> list[Binder]:
        out: list[Binder] = []
        while True:
            t = self.tok
            if t.kind == "sym" and t.text in ("(", "{", "[", "⦃"):
                close = {"(": ")", "{": "}", "[": "]", "⦃": "⦄"}[t.text]
                self.advance()
                saved = self.stop_col
                self.stop_col = None
                if t.text == "[":
                    raise ParseError("instance binders are not supported by MiniLean", t.start)
                names = self.binder_names()
                if not names:
                    self.error_expected("identifier")
                ty = None
                if self.is_sym(":"):
                    self.advance()
                    ty = self.term()
                self.stop_col = saved
                self.expect_sym(close)
                out.append(Binder(names, ty, t.text == "{"))
            elif t.kind == "ident" and t.text not in ("fun", "by", "at", "with"):
                names = self.binder_names()
                if allow_bare_typed and self.is_sym(":"):
                    self.advance()
                    ty = self.term()
                    out.append(Binder(names, ty, False))
                    return out
                out.append(Binder(names, None, False))
            else:
                return out

    def lambda_(self) -> Syn:
        t = self.advance()
        binders = []
        while True:
            binders.extend(self.binders(allow_bare_typed=True))
            if not self.is_sym("⟨"):
                break
            pat = self.rcases_pat_one()
            binders.append(Binder([("x✝", pat.start, pat.end)], None, False, pat))
        if not binders:
            self.error_expected("binder")
        if not (self.is_sym("=>") or self.is_sym("↦")):
            self.error_expected("'=>'")
        self.advance()
        body = self.term()
        return Syn("fun", t.start, body.end, (binders, body))

    def calc(self) -> Syn:
        t = self.advance()
        steps = []
        saved = (self.calc_mode, self.calc_col, self.calc_outer, self.stop_col)
        self.calc_mode = True
        self.calc_outer = self.stop_col
        self.calc_col = self.tok.col if self.tok.first_on_line else None
        self.stop_col = None
        try:
            while True:
                rel = self.term()
                self.expect_sym(":=")
                proof = self.term()
                steps.append((rel, proof))
                nt = self.tok
                if nt.kind == "eof" or not nt.first_on_line:
                    break
                is_step = (nt.kind == "ident" and nt.text == "_") or (self.calc_col is not None
                                                                      and nt.col == self.calc_col)
                if not is_step or (self.calc_col is None and self.calc_outer is not None
                                   and nt.col <= self.calc_outer):
                    break
                if self.calc_col is None:
                    self.calc_col = nt.col
        finally:
            self.calc_mode, self.calc_col, self.calc_outer, self.stop_col = saved
        return Syn("calc", t.start, steps[-1][1].end, (steps,))

    def have_term(self) -> Syn:
        t = self.advance()
        name, ty, val = self.have_decl()
        if val is None:
            self.error_expected("':='")
        if self.is_sym(";"):
            self.advance()
        body = self.term()
        return Syn("have_term", t.start, body.end, (name, ty, val, body))

    def have_decl(self):
        name = None
        if self.tok.kind == "ident" and self.tok.text not in ("by",):
            nt = self.advance()
            name = (nt.text, nt.start, nt.end)
        ty = None
        if self.is_sym(":"):
            self.advance()
            ty = self.term()
        val = None
        if self.is_sym(":="):
            self.advance()
            val = self.term()
        return name, ty, val

    def by_block(self) -> Syn:
        t = self.advance()
        if self.tok.kind == "eof" or self.broken_by_layout() or self.is_sym(")") or self.is_sym("⟩"):
            return Syn("by", t.start, t.end, (Syn("seq", t.end, t.end, ([],)),))
        seq = self.tactic_seq()
        return Syn("by", t.start, seq.end, (seq,))

    # -- tactics
    def tactic_seq(self) -> Syn:
        """Tactics separated by ';' or newlines at the column of the first one."""
        first = self.tok
        col = first.col
        saved = self.stop_col
        self.stop_col = col
        tacs = []
        try:
            while True:
                if self.tok.kind == "eof" or (self.tok.kind == "sym" and self.tok.text in (")", "}", "]", "|", "⟩")):
                    break
                if tacs and self.tok.first_on_line and self.tok.col < col:
                    break
                if tacs and self.tok.first_on_line and self.tok.col > col:
                    raise ParseError("expected command", self.tok.start)
                if tacs and saved is not None and self.tok.first_on_line and self.tok.col <= saved:
                    break
                if self.tok.kind == "ident" and self.tok.text in COMMAND_KEYWORDS and self.tok.first_on_line:
                    break
                tacs.append(self.tactic_then())
                if self.is_sym(";"):
                    self.advance()
                    continue
                if self.tok.kind == "eof" or not self.tok.first_on_line:
                    if not (self.tok.kind == "eof" or self.tok.kind == "sym" and self.tok.text in (")", "}", "]", "|", "⟩")):
                        self.error_unexpected_in_tactic()
                    break
        finally:
            self.stop_col = saved
        if not tacs:
            self.error_expected("tactic")
        return Syn("seq", tacs[0].start, tacs[-1].end, (tacs,))

    def error_unexpected_in_tactic(self):
        self.error_expected("command")

    def tactic_then(self) -> Syn:
        left = self.tactic()
        while self.is_sym("<;>"):
            self.advance()
            right = self.tactic()
            left = Syn("then_all", left.start, right.end, (left, right))
        return left

    def nested_seq(self) -> Syn:
        """A tactic sequence after `=>` / `·` / `try` ...; it may start on the same or a new line."""
        return self.tactic_seq()

    def tactic(self) -> Syn:
        t = self.tok
        if t.kind == "sym":
            if t.text in ("·", "."):
                self.advance()
                seq = self.nested_seq()
                return Syn("focus", t.start, seq.end, (seq,))
            if t.text == "(":
                self.advance()
                saved = self.stop_col
                self.stop_col = None
                seq = self.tactic_seq()
                self.stop_col = saved
                e = self.expect_sym(")")
                return Syn("paren_tac", t.start, e.end, (seq,))
            if t.text == "{":
                self.advance()
                saved = self.stop_col
                self.stop_col = None
                seq = self.tactic_seq() if not self.is_sym("}") else Syn("seq", t.end, t.end, ([],))
                self.stop_col = saved
                e = self.expect_sym("}")
                return Syn("brace", t.start, e.end, (seq, e.start, e.end))
            raise ParseError("unknown tactic", t.start)
        if t.kind != "ident":
            raise ParseError("unknown tactic", t.start)
        name = t.text
        self.advance()
        s = t.start

        def mk(kind, *args, **data):
            return Syn(kind, s, self.prev_end(), args, data)

        if name in ("intro", "intros"):
            names = []
            while not self.at_term_end() and self.tok.kind == "ident" and self.tok.text not in COMMAND_KEYWORDS:
                nt = self.advance()
                names.append((nt.text, nt.start, nt.end))
            if name == "intro" and not self.at_term_end() and self.is_sym("⟨"):
                pats = []
                while not self.at_term_end() and (self.is_sym("⟨") or self.tok.kind == "ident"):
                    pats.append(self.rcases_pat_one())
                return mk("intro_pats", pats)
            return mk(name, names)
        if name in ("exact", "apply", "refine", "refine'"):
            if self.at_term_end():
                self.error_expected("term")
            e = self.term()
            return mk(name, e)
        if name in ("constructor", "left", "right", "assumption", "contradiction", "exfalso", "trivial", "rfl",
                    "decide", "done", "skip", "sorry", "admit", "exact?", "aesop", "simp", "omega", "linarith",
                    "norm_num", "tauto", "positivity", "ring", "nlinarith", "simp_all", "apply?"):
            if name in ("simp", "norm_num", "simp_all", "omega", "linarith", "nlinarith",
                        "aesop", "positivity", "ring", "tauto"):
                self.skip_tactic_args()
                return mk("unsupported", name)
            return mk(name)
        if name == "calc":
            self.i -= 1
            c = self.calc()
            return Syn("calc", c.start, c.end, c.args)
        if name == "specialize":
            return mk("specialize", self.term())
        if name in ("revert", "clear", "rename_i"):
            names = []
            while not self.at_term_end() and self.tok.kind == "ident" and self.tok.text not in KEYWORDS:
                nt = self.advance()
                names.append((nt.text, nt.start, nt.end))
            if not names:
                self.error_expected("identifier")
            return mk(name, names)
        if name == "use":
            name = "exists"
        if name == "exists":
            items = [self.term()]
            while self.is_sym(","):
                self.advance()
                items.append(self.term())
            return mk("exists", items)
        if name == "induction":
            e = self.term()
            alts = None
            if self.is_kw("with"):
                self.advance()
                alts = []
                while self.is_sym("|"):
                    bar = self.advance()
                    tag = self.advance()
                    names = []
                    while self.tok.kind == "ident":
                        nt = self.advance()
                        names.append((nt.text, nt.start, nt.end))
                    self.expect_sym("=>")
                    seq = self.nested_seq()
                    alts.append((tag.text, names, seq, bar.start))
            return mk("induction", e, alts)
        if name in ("cases", "rcases", "obtain"):
            if name == "obtain":
                pat = None
                if not self.is_sym(":") and not self.is_sym(":="):
                    pat = self.rcases_pattern()
                ty = None
                if self.is_sym(":"):
                    self.advance()
                    ty = self.term()
                val = None
                if self.is_sym(":="):
                    self.advance()
                    val = self.term()
                return mk("obtain", pat, ty, val)
            e = self.term()
            if name == "rcases":
                pat = None
                if self.is_kw("with"):
                    self.advance()
                    pat = self.rcases_pattern()
                return mk("rcases", e, pat)
            alts = None
            if self.is_kw("with"):
                self.advance()
                alts = []
                while self.is_sym("|"):
                    bar = self.advance()
                    tag = self.advance()
                    names = []
                    while self.tok.kind == "ident":
                        nt = self.advance()
                        names.append((nt.text, nt.start, nt.end))
                    self.expect_sym("=>")
                    seq = self.nested_seq()
                    alts.append((tag.text, names, seq, bar.start))
            return mk("cases", e, alts)
        if name == "have" or name == "suffices":
            n, ty, val = self.have_decl()
            if name == "suffices":
                raise ParseError("`suffices` is not supported by MiniLean", s)
            return mk("have", n, ty, val)
        if name == "show":
            ty = self.term()
            return mk("show", ty)
        if name == "by_cases":
            n = None
            if self.tok.kind == "ident" and self.peek().kind == "sym" and self.peek().text == ":":
                nt = self.advance()
                n = (nt.text, nt.start, nt.end)
                self.advance()
            p = self.term()
            return mk("by_cases", n, p)
        if name == "by_contra":
            n = None
            if not self.at_term_end() and self.tok.kind == "ident":
                nt = self.advance()
                n = (nt.text, nt.start, nt.end)
            return mk("by_contra", n)
        if name == "first":
            alts = []
            while self.is_sym("|"):
                self.advance()
                alts.append(self.nested_seq())
            if not alts:
                self.error_expected("'|'")
            return mk("first", alts)
        if name in ("try", "repeat", "all_goals", "any_goals", "iterate"):
            seq = self.nested_seq()
            return mk(name, seq)
        if name in ("case", "next", "case'"):
            tag = None
            if name.startswith("case"):
                tt = self.advance()
                if tt.kind != "ident":
                    raise ParseError("expected case tag", tt.start)
                tag = tt.text
            names = []
            while self.tok.kind == "ident":
                nt = self.advance()
                names.append((nt.text, nt.start, nt.end))
            arrow = self.expect_sym("=>")
            seq = self.nested_seq()
            return mk("case", tag, names, seq, arrow.start)
        if name in ("rw", "rewrite", "rwa"):
            if self.is_sym("("):  # `(config := ...)`
                self.skip_group()
            self.expect_sym("[")
            saved = self.stop_col
            self.stop_col = None
            rules = []
            while True:
                rev = False
                if self.is_sym("←") or self.is_sym("<-"):
                    self.advance()
                    rev = True
                rules.append((rev, self.term()))
                if self.is_sym(","):
                    self.advance()
                    continue
                break
            self.stop_col = saved
            e = self.expect_sym("]")
            loc = None
            if self.is_kw("at"):
                self.advance()
                lt = self.advance()
                loc = (lt.text, lt.start, lt.end)
            return Syn(name, s, self.prev_end(), (rules, loc), {"rbracket": (e.start, e.end)})
        raise ParseError("unknown tactic", s)

    CLOSE = {"(": ")", "[": "]", "{": "}", "⟨": "⟩"}

    def skip_group(self) -> None:
        """Skip a balanced bracket group starting at the current token."""
        stack = [self.CLOSE[self.advance().text]]
        while stack:
            t = self.advance()
            if t.kind == "eof":
                raise ParseError(f"unexpected end of input; expected '{stack[-1]}'", t.start)
            if t.kind == "sym" and t.text in self.CLOSE:
                stack.append(self.CLOSE[t.text])
            elif t.kind == "sym" and t.text == stack[-1]:
                stack.pop()

    def skip_tactic_args(self) -> None:
        """Skip the arguments of a tactic MiniLean does not run (balanced brackets, up to the tactic's end)."""
        while not self.at_term_end():
            t = self.tok
            if t.kind == "sym" and t.text in self.CLOSE:
                self.skip_group()
            elif t.kind == "sym" and t.text in TACTIC_TERMINATORS:
                return
            else:
                self.advance()

    def rcases_pattern(self) -> Syn:
        alts = [self.rcases_pat_one()]
        while self.is_sym("|"):
            self.advance()
            alts.append(self.rcases_pat_one())
        if len(alts) == 1:
            return alts[0]
        return Syn("pat_alts", alts[0].start, alts[-1].end, (alts,))

    def rcases_pat_one(self) -> Syn:
        t = self.tok
        if t.kind == "ident":
            self.advance()
            return Syn("pat_name", t.start, t.end, (t.text,))
        if t.kind == "sym" and t.text == "-":
            self.advance()
            return Syn("pat_name", t.start, t.end, ("_",))
        if t.kind == "sym" and t.text == "⟨":
            self.advance()
            items = []
            if not self.is_sym("⟩"):
                items.append(self.rcases_pattern())
                while self.is_sym(","):
                    self.advance()
                    items.append(self.rcases_pattern())
            e = self.expect_sym("⟩")
            return Syn("pat_tuple", t.start, e.end, (items,))
        if t.kind == "sym" and t.text == "(":
            self.advance()
            p = self.rcases_pattern()
            self.expect_sym(")")
            return p
        self.error_expected("rcases pattern")


def parse_tactic_text(text: str) -> Syn:
    """Parse a tactic step as the repl does (category `tactic`; a sequence is accepted)."""
    p = Parser(text, tactic_mode=True)
    if p.tok.kind == "eof":
        raise ParseError("unexpected end of input; expected tactic", 0)
    seq = p.tactic_seq()
    if p.tok.kind != "eof":
        p.error_unexpected_in_tactic()
    return seq


def parse_term_text(text: str) -> Syn:
    p = Parser(text)
    t = p.term()
    if p.tok.kind != "eof":
        raise ParseError(f"unexpected token '{p.tok.text}'; expected end of input", p.tok.start)
    return t
