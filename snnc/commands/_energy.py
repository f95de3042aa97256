"""Options for Qualia-SNN's energy estimate, shared by check, report and evaluate (docs/energy.md)."""
from __future__ import annotations

from snnc.compiler.errors import SnncError


def add_energy_options(p) -> None:
    g = p.add_argument_group("Qualia-SNN energy estimate (EnergyEstimationMetric; docs/energy.md)",
                             "given --timesteps or --qualia-config, the energy section also holds Qualia-SNN's "
                             "per-layer estimate with these settings")
    g.add_argument("--qualia-config", metavar="QUALIA.toml", help="take T ([model_template] params.timesteps) and "
                   "the EnergyEstimationMetric settings ([[postprocessing]]) from a Qualia-SNN configuration; the "
                   "options below override them")
    g.add_argument("--timesteps", type=int, metavar="T", help="time steps per inference (membrane, bias and "
                   "threshold terms are paid every step)")
    g.add_argument("--mem-width", type=int, metavar="BITS", help="memory access and operation width (default 16, "
                   "Speck's membrane state)")
    g.add_argument("--fifo-size", type=int, metavar="N", help="size of each layer's event FIFO (default 64)")
    g.add_argument("--op-estimation", metavar="METHOD[,MUL_METHOD]", help="operation energy vs width: ICONIP, "
                   "saturation, linear or quadratic (one for add and mul, or ADD,MUL); default: Qualia's (the "
                   "8- or 32-bit value, else the 32-bit one)")
    g.add_argument("--sram-estimation", choices=["old", "new"], help="SRAM access energy: old (ICONIP 2022, "
                   "default) or new (64-bit packed accesses, T. Louis)")


def qualia_settings_from_args(args, training_toml: str | None = None):
    """``QualiaEnergySettings`` from the options, or None when neither --timesteps nor --qualia-config is given.

    ``training_toml`` (``snnc evaluate --config``): a Qualia-SNN file there stands for --qualia-config, and with
    snnc's own format the options take T from its ``encoding.timesteps``."""
    from snnc.compiler.energy_qualia import QualiaEnergySettings

    given = [o for o, v in (("--mem-width", args.mem_width), ("--fifo-size", args.fifo_size),
                            ("--op-estimation", args.op_estimation), ("--sram-estimation", args.sram_estimation))
             if v is not None]
    if training_toml is not None and args.qualia_config is None and (given or args.timesteps is not None):
        from snnc.runtime.training.config import read_toml
        from snnc.runtime.training.qualia_config import is_qualia

        data = read_toml(training_toml)
        if is_qualia(data):
            args.qualia_config = training_toml
        elif args.timesteps is None:
            args.timesteps = int(data.get("encoding", {}).get("timesteps", 8))
    if args.timesteps is None and args.qualia_config is None:
        if given:
            raise SnncError(f"{given[0]} sets Qualia-SNN's energy estimate: give --timesteps T (or --qualia-config "
                            "QUALIA.toml) too")
        return None
    base = {}
    if args.qualia_config is not None:
        from snnc.runtime.training.config import read_toml
        from snnc.runtime.training.qualia_config import energy_settings

        s = energy_settings(read_toml(args.qualia_config), where=args.qualia_config)
        base = {"timesteps": s.timesteps, "mem_width": s.mem_width, "fifo_size": s.fifo_size, "op_add": s.op_add,
                "op_mul": s.op_mul, "sram": s.sram,
                "total_spikerate_exclude_nonbinary": s.total_spikerate_exclude_nonbinary}
    if args.timesteps is not None:
        base["timesteps"] = args.timesteps
    if args.mem_width is not None:
        base["mem_width"] = args.mem_width
    if args.fifo_size is not None:
        base["fifo_size"] = args.fifo_size
    if args.op_estimation is not None:
        parts = [v.strip() for v in args.op_estimation.split(",")]
        if len(parts) not in (1, 2) or not all(parts):
            raise SnncError(f"--op-estimation: give METHOD or ADD_METHOD,MUL_METHOD, got {args.op_estimation!r}")
        base["op_add"], base["op_mul"] = parts[0], parts[-1]
    if args.sram_estimation is not None:
        base["sram"] = args.sram_estimation
    try:
        return QualiaEnergySettings(**base)
    except SnncError as e:
        raise SnncError(f"Qualia-SNN energy settings: {e}") from None
