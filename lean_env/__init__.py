"""lean_env: the Lean repl protocol as typed values, its framing, and a client over any process's pipes.

Modules: ``protocol`` (pure wire types), ``framing`` (blank-line frames), ``client`` (sync + anyio client with
timeouts, crash/OOM detection), ``judge`` (step verdicts, canonical goals), ``repl_cmd`` (command lines),
``transcripts`` (recorded sessions: check and replay), ``cli`` (``cryo transcript ...``), ``minilean`` (the
embedded prover).
"""

from lean_env.errors import ProtocolError, ReplCrashed, ReplError, ReplOutOfMemory, ReplTimeout, TranscriptError

__all__ = ["ReplError", "ReplTimeout", "ReplCrashed", "ReplOutOfMemory", "ProtocolError", "TranscriptError"]
