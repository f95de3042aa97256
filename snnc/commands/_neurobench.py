"""``snnc evaluate --neurobench``: the option's checks and the text table (the counting is in
``snnc.runtime.neurobench_metrics``)."""
from __future__ import annotations


def neurobench_dt(args) -> int | None:
    """The NeuroBench time bin asked for (None: no --neurobench)."""
    from snnc.compiler.errors import SnncError

    if not getattr(args, "neurobench", False):
        if getattr(args, "neurobench_dt_us", None) is not None:
            raise SnncError("--neurobench-dt-us needs --neurobench")
        return None
    from snnc.runtime.neurobench_metrics import DEFAULT_DT_US, check_dt

    return check_dt(DEFAULT_DT_US if args.neurobench_dt_us is None else args.neurobench_dt_us)


def print_neurobench(res: dict) -> None:
    if res.get("neurobench") is not None:
        from snnc.runtime.neurobench_metrics import format_table

        print(format_table(res["neurobench"]))

