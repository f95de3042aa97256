"""snnc.compiler: the graph IR, model frontends, passes, design-rule checks and core assignment."""
