"""The proof tree: nodes are proof states (canonical goal lists), edges are tactics with their outcome.

Built on a ``networkx.DiGraph``. The same canonical goal list reached along two paths is one node
(a transposition), so the graph is a DAG; an edge that would close a cycle is recorded as a failed
tactic instead. Each tactic that failed gets its own ``FAILED`` leaf, so every tactic tried is an edge.

Statuses follow the MCTS-solver rule (Winands et al., 2008) for OR-nodes: a node is ``PROVED`` as
soon as one child is proved; an expanded node none of whose children can still be proved is
``EXHAUSTED`` and is never selected again. Both propagate to every parent.

This module is pure: no processes, no I/O except ``to_json``/``to_dot`` producing text.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Hashable, Iterator, Sequence
import math
import operator
from typing import Any

import networkx as nx
from lean_env.errors import GoalParseError
from lean_env.judge import canonical_goal
from policies.base import NO_CHILD, NodeStats, NodeStatus, SelectionScope

from treesearch.errors import TreeError

ROOT = 0
"""Node id of the root (the theorem's initial proof state)."""

NO_HANDLE = None
"""A node whose backend state is not (or no longer) held anywhere; it is rebuilt by replay when needed."""


class Status(str, enum.Enum):
    OPEN = "open"
    PROVED = "proved"
    FAILED = "failed"
    EXHAUSTED = "exhausted"


class EdgeOutcome(str, enum.Enum):
    OPEN = "open"  # the tactic succeeded and left goals
    PROVED = "proved"  # the tactic closed every goal
    ERROR = "error"  # Lean rejected the tactic
    FAULT = "fault"  # the process crashed, hung past the timeout or ran out of memory
    CYCLE = "cycle"  # the tactic led back to a state on the path (no progress)


def _default_canonical(goals: Sequence[str]) -> tuple[Hashable, ...]:
    """Canonical goals (``lean_env.judge.canonical_goal``); a goal text that is not in Lean's goal layout (a repl
    printing something else) is still a state of its own: its runs of white space are folded instead."""
    out: list[str] = []
    for goal in goals:
        try:
            out.append(canonical_goal(goal))
        except GoalParseError:
            out.append(" ".join(goal.split()))
    return tuple(out)


class ProofTree:
    """The search graph.

    Node attributes: ``goals`` (tuple of goal texts), ``key`` (canonical goals), ``visits``,
    ``value_sum``, ``prior``, ``in_flight`` (selections currently passing through: virtual loss),
    ``depth`` (shortest distance from the root), ``status``, ``handle`` (the backend's state handle),
    ``expanded``, ``expanding`` (an expansion is running), ``parent``/``tactic`` (the first path that
    reached it, used for replay), ``proof_child`` (the child that proves it), ``message`` (failed nodes).
    """

    def __init__(
        self,
        root_goals: Sequence[str],
        *,
        root_handle: Any = NO_HANDLE,
        canonical_fn: Callable[[Sequence[str]], Sequence[Hashable]] | None = None,
    ) -> None:
        self._canonical_fn = canonical_fn or _default_canonical
        self.graph = nx.DiGraph()
        self._by_key: dict[tuple, int] = {}
        self._settled: list[int] = []  # nodes that became proved/exhausted/failed since the last pop_settled
        self._next_id = ROOT
        self._add_state_node(tuple(root_goals), depth=0, prior=1.0, handle=root_handle, parent=None, tactic=None,
                             log_prior=0.0)

    # ---------------------------------------------------------------- construction
    def _new_id(self) -> int:
        nid = self._next_id
        self._next_id += 1
        return nid

    def _add_state_node(self, goals, *, depth, prior, handle, parent, tactic, log_prior) -> int:
        key = tuple(self._canonical_fn(goals))
        nid = self._new_id()
        status = Status.PROVED if not goals else Status.OPEN
        self.graph.add_node(
            nid, goals=tuple(goals), key=key, visits=0, value_sum=0.0, prior=float(prior), in_flight=0,
            depth=depth, status=status, handle=handle, expanded=not goals, expanding=False,
            parent=parent, tactic=tactic, proof_child=None, message=None, log_prior=log_prior,
        )
        self._by_key[key] = nid
        return nid

    def node(self, nid: int) -> dict[str, Any]:
        """The attribute dict of node ``nid`` (live: edits change the tree)."""
        try:
            return self.graph.nodes[nid]
        except KeyError as e:
            raise TreeError(f"no node {nid} in the proof tree ({len(self.graph)} nodes)") from e

    def __len__(self) -> int:
        return self.graph.number_of_nodes()

    def __contains__(self, nid: int) -> bool:
        return nid in self.graph

    @property
    def root(self) -> dict[str, Any]:
        return self.node(ROOT)

    def lookup(self, goals: Sequence[str]) -> int | None:
        """The node holding ``goals`` (after canonicalisation), if any."""
        return self._by_key.get(tuple(self._canonical_fn(goals)))

    def children(self, nid: int) -> list[int]:
        return list(self.graph.successors(nid))

    def parents(self, nid: int) -> list[int]:
        return list(self.graph.predecessors(nid))

    def edge(self, parent: int, child: int) -> dict[str, Any]:
        return self.graph.edges[parent, child]

    def add_outcome(
        self,
        parent: int,
        tactic: str,
        *,
        goals: Sequence[str] | None,
        handle: Any = NO_HANDLE,
        prior: float = 1.0,
        message: str | None = None,
        fault: bool = False,
    ) -> int:
        """Record that ``tactic`` applied at ``parent`` gave ``goals`` (``None``: it failed with ``message``).

        Returns the child's id. A goal list already in the tree becomes an edge to the existing node
        (transposition); one that would close a cycle becomes a ``FAILED`` leaf with outcome ``cycle``.
        """
        p = self.node(parent)
        if goals is None:
            outcome = EdgeOutcome.FAULT if fault else EdgeOutcome.ERROR
            return self._add_failed(parent, tactic, prior=prior, outcome=outcome, message=message or "tactic failed")
        goals = tuple(goals)
        existing = self.lookup(goals)
        if existing is not None:
            if existing == parent or nx.has_path(self.graph, existing, parent):
                return self._add_failed(
                    parent, tactic, prior=prior, outcome=EdgeOutcome.CYCLE,
                    message="the tactic led back to a state already on this path",
                )
            if self.graph.has_edge(parent, existing):
                return existing  # a second tactic to the same state: keep the first edge
            self.graph.add_edge(parent, existing, tactic=tactic, prior=float(prior),
                                outcome=(EdgeOutcome.PROVED if not goals else EdgeOutcome.OPEN).value)
            c = self.node(existing)
            c["log_prior"] = max(c["log_prior"], p["log_prior"] + _log(prior))
            if p["depth"] + 1 < c["depth"]:
                self._lower_depth(existing, p["depth"] + 1)
            if c["handle"] is NO_HANDLE and handle is not NO_HANDLE:
                c["handle"] = handle
            self._refresh(parent)
            return existing
        child = self._add_state_node(goals, depth=p["depth"] + 1, prior=prior, handle=handle,
                                     parent=parent, tactic=tactic, log_prior=p["log_prior"] + _log(prior))
        self.graph.add_edge(parent, child, tactic=tactic, prior=float(prior),
                            outcome=(EdgeOutcome.PROVED if not goals else EdgeOutcome.OPEN).value)
        self._refresh(parent)
        return child

    def _add_failed(self, parent: int, tactic: str, *, prior: float, outcome: EdgeOutcome, message: str) -> int:
        p = self.node(parent)
        nid = self._new_id()
        self.graph.add_node(
            nid, goals=None, key=None, visits=0, value_sum=0.0, prior=float(prior), in_flight=0,
            depth=p["depth"] + 1, status=Status.FAILED, handle=NO_HANDLE, expanded=True, expanding=False,
            parent=parent, tactic=tactic, proof_child=None, message=message,
            log_prior=p["log_prior"] + _log(prior),
        )
        self.graph.add_edge(parent, nid, tactic=tactic, prior=float(prior), outcome=outcome.value, message=message)
        return nid

    def _lower_depth(self, nid: int, depth: int) -> None:
        stack = [(nid, depth)]
        while stack:
            n, d = stack.pop()
            if d >= self.node(n)["depth"] and n != nid:
                continue
            self.node(n)["depth"] = d
            stack.extend((c, d + 1) for c in self.graph.successors(n) if self.node(c)["depth"] > d + 1)

    # ---------------------------------------------------------------- expansion bookkeeping
    def begin_expansion(self, nid: int) -> None:
        n = self.node(nid)
        if n["expanded"] or n["expanding"]:
            raise TreeError(f"node {nid} is already {'expanded' if n['expanded'] else 'being expanded'}")
        n["expanding"] = True

    def end_expansion(self, nid: int, *, expanded: bool = True) -> None:
        """Finish an expansion of ``nid``; ``expanded=False`` puts it back as not expanded (it may be retried)."""
        n = self.node(nid)
        n["expanding"] = False
        n["expanded"] = n["expanded"] or expanded
        self._refresh(nid)

    def mark_failed(self, nid: int, message: str) -> None:
        """A state that can no longer be reached (e.g. every rebuild failed): never select it again."""
        n = self.node(nid)
        n["status"] = Status.FAILED
        n["message"] = message
        n["expanding"] = False
        self._settled.append(nid)
        for p in self.parents(nid):
            self._refresh(p)

    def _refresh(self, nid: int) -> None:
        """Recompute ``nid``'s solver status from its children and propagate changes to its parents."""
        stack = [nid]
        while stack:
            n = stack.pop()
            attrs = self.node(n)
            if attrs["status"] is not Status.OPEN:
                continue
            new = Status.OPEN
            kids = self.children(n)
            proved = [c for c in kids if self.node(c)["status"] is Status.PROVED]
            if proved:
                new = Status.PROVED
                attrs["proof_child"] = min(proved, key=lambda c: (self.node(c)["depth"], c))
            elif attrs["expanded"] and not attrs["expanding"] and all(
                self.node(c)["status"] in (Status.FAILED, Status.EXHAUSTED) for c in kids
            ):
                new = Status.EXHAUSTED
            if new is not Status.OPEN:
                attrs["status"] = new
                self._settled.append(n)
                stack.extend(self.parents(n))

    # ---------------------------------------------------------------- selection
    def stats(self, nid: int, *, parent: int | None = None) -> NodeStats:
        """``policies.NodeStats`` of ``nid``: raw visits plus ``in_flight`` (the selector applies virtual
        loss); failed nodes are reported as exhausted; ``order`` is the node id.

        ``prior`` is the prior of the edge from ``parent`` when one is given, else of the edge that first
        reached the node.  A transposition reached from ``parent`` by its main-line tactic thus keeps that
        tactic's prior there, even when another parent first reached it by a low-prior fallback."""
        n = self.node(nid)
        status = {Status.OPEN: NodeStatus.OPEN, Status.PROVED: NodeStatus.PROVED}.get(n["status"],
                                                                                    NodeStatus.EXHAUSTED)
        prior = n["prior"] if parent is None else float(self.edge(parent, nid).get("prior", n["prior"]))
        return NodeStats(
            visits=n["visits"], value_sum=n["value_sum"], prior=prior, in_flight=n["in_flight"],
            depth=n["depth"], log_prior=n["log_prior"], status=status, order=nid,
        )

    def selectable(self, nid: int) -> bool:
        n = self.node(nid)
        return n["status"] is Status.OPEN and not (not n["expanded"] and n["expanding"])

    def select(self, selector: Any) -> list[int] | None:
        """The path (root first) to the next node to expand, or ``None`` when nothing is selectable now
        (the root is proved or exhausted, or every open leaf is already being expanded).

        ``selector.scope`` TREE: walk down from the root calling ``selector.select(node, children)`` at
        every expanded node. Children that are proved, failed, exhausted or being expanded are not
        offered; when the chosen child's subtree has nothing selectable, the choice is asked again
        without it. FRONTIER: one call ``select(root, open unexpanded leaves)``; the path is the leaf's
        first-discovered path from the root.
        """
        if not self.selectable(ROOT):
            return None
        if getattr(selector, "scope", SelectionScope.TREE) is SelectionScope.FRONTIER:
            leaves = [n for n, a in self.graph.nodes(data=True)
                      if a["status"] is Status.OPEN and not a["expanded"] and not a["expanding"]]
            if not leaves:
                return None
            i = self._choose(selector, ROOT, leaves, edges=False)
            if i is None:
                return None
            return [ROOT] + [n for n, _t in self.replay_path(leaves[i])]
        dead: set[int] = set()

        def descend(nid: int, path: list[int]) -> list[int] | None:
            n = self.node(nid)
            if not n["expanded"]:
                return path
            cands = [c for c in self.children(nid) if c not in dead and c not in path and self.selectable(c)]
            while cands:
                i = self._choose(selector, nid, cands)
                if i is None:
                    return None
                c = cands.pop(i)
                found = descend(c, path + [c])
                if found is not None:
                    return found
                dead.add(c)
            return None

        return descend(ROOT, [ROOT])

    def _choose(self, selector: Any, parent: int, cands: Sequence[int], *, edges: bool = True) -> int | None:
        """``selector.select`` over ``cands``; with ``edges`` (a tree walk) each candidate's prior is that of
        its edge from ``parent``."""
        kids = [self.stats(c, parent=parent if edges else None) for c in cands]
        i = selector.select(self.stats(parent), kids)
        if i == NO_CHILD:
            return None
        try:
            i = operator.index(i)
        except TypeError:
            i = None
        if i is None or not 0 <= i < len(cands):
            raise TreeError(f"selection rule {selector!r} returned {i!r} for {len(cands)} children of node {parent}")
        return i

    def pop_settled(self) -> list[int]:
        """Nodes that became proved, exhausted or failed since the last call: they are never expanded
        again, and no open node needs them for a replay, so their backend states may be released."""
        out, self._settled = self._settled, []
        return out

    def add_virtual_loss(self, path: Sequence[int]) -> None:
        for nid in path:
            self.node(nid)["in_flight"] += 1

    def remove_virtual_loss(self, path: Sequence[int]) -> None:
        for nid in path:
            n = self.node(nid)
            if n["in_flight"] <= 0:
                raise TreeError(f"virtual loss on node {nid} would go negative")
            n["in_flight"] -= 1

    def backup(self, path: Sequence[int], value: float) -> None:
        """Add one visit of ``value`` to every node on ``path``."""
        for nid in path:
            n = self.node(nid)
            n["visits"] += 1
            n["value_sum"] += float(value)

    # ---------------------------------------------------------------- queries
    @property
    def proved(self) -> bool:
        return self.root["status"] is Status.PROVED

    @property
    def exhausted(self) -> bool:
        return self.root["status"] is Status.EXHAUSTED

    def proof_nodes(self) -> list[int]:
        """Node ids of the shortest proof in the tree: a shortest path from the root to the goal-free
        node through proved nodes (every such path is a proof); ``[]`` if the root is unproved."""
        if not self.proved:
            return []
        done = self.lookup([])
        if done is None:
            raise TreeError("the root is marked proved but the tree has no goal-free node")
        proved = self.graph.subgraph(n for n, a in self.graph.nodes(data=True) if a["status"] is Status.PROVED)
        try:
            return list(nx.shortest_path(proved, ROOT, done))
        except nx.NetworkXNoPath as e:
            raise TreeError("the root is marked proved but no path of proved nodes reaches a goal-free node") from e

    def proof_tactics(self) -> list[str]:
        nodes = self.proof_nodes()
        return [self.edge(a, b)["tactic"] for a, b in zip(nodes, nodes[1:])]

    def replay_path(self, nid: int) -> list[tuple[int, str]]:
        """``(node, tactic)`` pairs along the first-discovered path from the root to ``nid`` (root excluded)."""
        out: list[tuple[int, str]] = []
        cur = nid
        while cur != ROOT:
            n = self.node(cur)
            if n["parent"] is None:
                raise TreeError(f"node {cur} has no recorded parent")
            out.append((cur, n["tactic"]))
            cur = n["parent"]
        out.reverse()
        return out

    def nodes(self, status: Status | None = None) -> Iterator[int]:
        for nid, attrs in self.graph.nodes(data=True):
            if status is None or attrs["status"] is status:
                yield nid

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Status}
        for _nid, attrs in self.graph.nodes(data=True):
            out[attrs["status"].value] += 1
        return out

    # ---------------------------------------------------------------- export
    def to_dict(self, *, handle_fn: Callable[[Any], Any] | None = None) -> dict[str, Any]:
        """A JSON-ready dict; ``handle_fn`` turns backend handles into JSON values (default: drop them)."""
        nodes = []
        for nid, a in self.graph.nodes(data=True):
            nodes.append({
                "id": nid, "goals": list(a["goals"]) if a["goals"] is not None else None,
                "visits": a["visits"], "value_sum": a["value_sum"], "prior": a["prior"],
                "depth": a["depth"], "status": a["status"].value, "expanded": a["expanded"],
                "parent": a["parent"], "tactic": a["tactic"], "proof_child": a["proof_child"],
                "message": a["message"], "log_prior": a["log_prior"] if math.isfinite(a["log_prior"]) else None,
                "handle": handle_fn(a["handle"]) if handle_fn and a["handle"] is not NO_HANDLE else None,
            })
        edges = [{"source": u, "target": v, **{k: val for k, val in d.items()}}
                 for u, v, d in self.graph.edges(data=True)]
        return {"format": "cryo-proof-tree/1", "root": ROOT, "nodes": nodes, "edges": edges}

    def to_json(self, **kw: Any) -> str:
        return json.dumps(self.to_dict(**kw), ensure_ascii=False, indent=1, allow_nan=False)

    @classmethod
    def from_dict(
        cls,
        data: dict[str, Any],
        *,
        handle_fn: Callable[[Any], Any] | None = None,
        canonical_fn: Callable[[Sequence[str]], Sequence[Hashable]] | None = None,
    ) -> "ProofTree":
        """Rebuild a tree saved by ``to_dict``; ``handle_fn`` turns saved handle values back into handles.
        Nodes that were being expanded when saved come back as not expanded."""
        if data.get("format") != "cryo-proof-tree/1":
            raise TreeError(f"not a saved cryo proof tree (format {data.get('format')!r})")
        try:
            nodes = sorted(data["nodes"], key=lambda n: n["id"])
            root = nodes[0]
            tree = cls(root["goals"], canonical_fn=canonical_fn)
            tree.graph.remove_node(ROOT)
            tree._by_key.clear()
            for n in nodes:
                goals = tuple(n["goals"]) if n["goals"] is not None else None
                key = tuple(tree._canonical_fn(goals)) if goals is not None else None
                handle = handle_fn(n["handle"]) if handle_fn and n.get("handle") is not None else NO_HANDLE
                tree.graph.add_node(
                    n["id"], goals=goals, key=key, visits=int(n["visits"]), value_sum=float(n["value_sum"]),
                    prior=float(n["prior"]), in_flight=0, depth=int(n["depth"]), status=Status(n["status"]),
                    handle=handle, expanded=bool(n["expanded"]), expanding=False, parent=n["parent"],
                    tactic=n["tactic"], proof_child=n["proof_child"], message=n["message"],
                    log_prior=-math.inf if n.get("log_prior", 0.0) is None else float(n.get("log_prior", 0.0)),
                )
                if key is not None:
                    tree._by_key.setdefault(key, n["id"])
            for e in data["edges"]:
                attrs = {k: v for k, v in e.items() if k not in ("source", "target")}
                tree.graph.add_edge(e["source"], e["target"], **attrs)
            tree._next_id = max(n["id"] for n in nodes) + 1
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise TreeError(f"saved proof tree is malformed: {e!r}") from e
        return tree

    @classmethod
    def from_json(cls, text: str, **kw: Any) -> "ProofTree":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise TreeError(f"saved proof tree is not JSON: {e}") from e
        return cls.from_dict(data, **kw)

    def to_dot(self) -> str:
        """Graphviz dot text: nodes labelled with status, visits and goals; proof edges drawn bold."""
        colors = {Status.OPEN: "white", Status.PROVED: "palegreen", Status.FAILED: "mistyrose",
                  Status.EXHAUSTED: "lightgrey"}
        proof = set(zip(self.proof_nodes(), self.proof_nodes()[1:]))
        lines = ["digraph prooftree {", '  node [shape=box, style=filled, fontname="monospace"];']
        for nid, a in self.graph.nodes(data=True):
            goals = "\n\n".join(a["goals"]) if a["goals"] else ("no goals" if a["goals"] is not None
                                                               else (a["message"] or "failed"))
            label = f"#{nid} {a['status'].value} n={a['visits']}\n{goals}"
            lines.append(f"  n{nid} [label={_dot_quote(label)}, fillcolor={colors[a['status']]}];")
        for u, v, d in self.graph.edges(data=True):
            style = ", style=bold, color=darkgreen" if (u, v) in proof else ""
            lines.append(f"  n{u} -> n{v} [label={_dot_quote(d['tactic'])}{style}];")
        lines.append("}")
        return "\n".join(lines) + "\n"


def _log(prior: float) -> float:
    return math.log(prior) if prior > 0 else -math.inf


def _dot_quote(text: str) -> str:
    esc = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\l")
    return f'"{esc}\\l"' if "\\l" in esc else f'"{esc}"'
