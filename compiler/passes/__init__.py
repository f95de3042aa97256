"""Graph passes: each is a pure function ``(graph, ctx) -> graph`` that may add diagnostics to ``ctx``."""
