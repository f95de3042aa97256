"""The fast simulator's event loop, compiled with numba.

Programs are packed into integer arrays by the driver (``driver.py``): ``P[core, field]`` (fields :data:`_P_FIELDS`),
weights ``W`` and states ``S`` flattened per core, biases ``B[core, feature]``.  The processing order is the one
stated in ``snnc.runtime.simulator``'s docstring; the reference simulator (``reference.py``) follows the same rules
in plain Python.

Memory layout (for the inner loop to run over contiguous memory): a core's states (int16, and int64 spike counts)
are ``[y][x][feature]`` (:func:`state_index`), its weights (int8) ``[in feature][ky][kx position][out feature]`` with
the kernel columns in :func:`kx_position` order, so one event's update of the neurons of one output row is one run of
``(ox1 - ox0 + 1) * out_f`` states against one run of weights, computed 16 lanes wide (:func:`lane`).  Every function
is compiled without numba's runtime (nothing is allocated or returned as an array, so nothing is reference-counted);
docs/simulator.md explains each choice.

An event arriving at a core that cannot reach itself through its destinations (``P[core, CYC] == 0``: every core of
a feed-forward network) updates all its target neurons first, then handles their spikes in ascending (feature, y, x)
order, each spike's cascade finished before the next.  The cascade never comes back to this core, so this gives
exactly the order of the rules (update a neuron, handle its spike at once, go on), which the kernel follows
literally for cores on a loop (``CYC == 1``).
"""
from __future__ import annotations

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

from .. import neuron
from .budget import B_COUNT, B_EVENT, B_LEAK, B_LEAK_LIMIT, B_PER_EVENT, B_START, B_TOTAL, RC_LEAK, RC_RUNAWAY

_P_FIELDS = ("in_c", "in_h", "in_w", "out_f", "out_h", "out_w", "k", "sy", "sx", "py", "px", "thh", "thl", "rtz",
             "mon", "dec_n", "n_dest", "d0_layer", "d0_pool", "d0_shift", "d1_layer", "d1_pool", "d1_shift",
             "w_off", "s_off", "used", "leak", "col", "cyc")
_P = {name: i for i, name in enumerate(_P_FIELDS)}

(IN_C, IN_H, IN_W, OUT_F, OUT_H, OUT_W, K, SY, SX, PY, PX, THH, THL, RTZ, MON, DEC_N, N_DEST, D0_LAYER, D0_POOL,
 D0_SHIFT, D1_LAYER, D1_POOL, D1_SHIFT, W_OFF, S_OFF, USED, LEAK, COL, CYC) = range(len(_P_FIELDS))
# the neuron rules of runtime/neuron.py, compiled (the same source the reference simulator calls)
# Every kernel function is compiled without numba's runtime (``_nrt=False``): the kernel allocates nothing (the driver
# passes every buffer in), so no array needs reference counting, and numba's atomic increments and decrements of
# array references (once per array argument and per inlined call, more than the neuron updates cost) go away.
jit = numba.njit(cache=True, _nrt=False)
jit_inline = numba.njit(cache=True, _nrt=False, inline="always")
integrate = jit_inline(neuron.integrate)
fire = jit_inline(neuron.fire)
leak_ticks = jit_inline(neuron.leak_ticks)
INT16_MIN = neuron.INT16_MIN
INT16_MAX = neuron.INT16_MAX
#: Kernel-internal event-layer ids (not chip numbers): a destination ``RO`` is the readout layer, an output row with
#: layer ``DVS`` is a monitored DVS event.  The driver maps them to and from the target's own ids.
RO = -1
DVS = -2
#: ``P[core, MON]`` bits: 1 = monitored (its passed spikes are output rows), 2 = spike log (every spike, before the
#: decimator, is a row with layer ``LOG - core``; ``Simulator.run(..., spikes=True)``).
LOG = -16
#: The counters array ``ctr``: output rows made, events dropped (outside a destination's input).
C_OUT, C_DROP = 0, 1
# stack frame columns: core, c, x, y, o, oy, ox (next target), oy0, oy1, ox0, ox1 (target ranges).  For a core with
# CYC == 0, columns 4..6 are instead: -1 - (next spike in ``fired``) once its targets are updated (0 before), the end
# and the start of its spikes in ``fired``.
# And for the optional trace: trace id (-1 until the frame is first processed), parent trace id, synops of the
# delivery.  Trace state: tr [cap, 5] rows (t, core, synops, parent, outputs); trn = [rows used, overflowed, tracing]


@jit_inline
def state_index(P, core, o, y, x):
    """Index in ``S`` (and the spike counts) of neuron (o, y, x) of ``core``: states are [y][x][feature]."""
    return P[core, S_OFF] + (y * P[core, OUT_W] + x) * P[core, OUT_F] + o


@jit
def fired_capacity(P):
    """Size of the kernel's ``fired`` buffer: room for the spikes of one event at every acyclic core at once (in a
    feed-forward cascade each core has at most one event whose spikes are pending)."""
    n = 0
    for core in range(P.shape[0]):
        if P[core, USED] and not P[core, CYC]:
            k = P[core, K]
            n += P[core, OUT_F] * (-(-k // P[core, SY])) * (-(-k // P[core, SX]))
    return n


@jit
def flags_capacity(P):
    """Size of the kernel's ``flags`` buffer: the spike flags of one row of targets (``_update_all``), rounded up
    to whole 8-byte words."""
    n = 8
    for core in range(P.shape[0]):
        if P[core, USED] and not P[core, CYC]:
            n = max(n, P[core, OUT_F] * (-(-P[core, K] // P[core, SX])))
    return (n + 7) // 8 * 8

@jit_inline
def _record(out, ctr, t, layer, c, x, y):
    """Append an output row (t, layer, feature, x, y); rows beyond ``out``'s capacity are only counted (the driver
    then runs again with room for all: no array is ever reallocated, or returned, inside the kernel)."""
    i = ctr[C_OUT]
    if i < out.shape[0]:
        out[i, 0] = t
        out[i, 1] = layer
        out[i, 2] = c
        out[i, 3] = x
        out[i, 4] = y
    ctr[C_OUT] = i + 1

@jit_inline
def _push(P, stack, sp, core, c, x, y, t, row, in_ev, synops, ev_syn, out, ctr, trn, parent):
    """Deliver event (c, x, y) to ``core``: push a frame (or record it when core is the readout).  Returns the new
    stack pointer, -1 when the stack is full."""
    if core == RO:
        _record(out, ctr, t, RO, c, x, y)
        return sp
    if c < 0 or c >= P[core, IN_C] or x < 0 or x >= P[core, IN_W] or y < 0 or y >= P[core, IN_H]:
        ctr[C_DROP] += 1
        return sp
    k = P[core, K]
    sx = P[core, SX]
    sy = P[core, SY]
    ax = x + P[core, PX]
    ay = y + P[core, PY]
    if sx == 1:  # (no division for the common stride)
        ox0 = ax - k + 1
        ox1 = ax
    else:
        ox0 = -((k - 1 - ax) // sx)  # ceil((ax - k + 1) / sx)
        ox1 = ax // sx
    if ox0 < 0:
        ox0 = 0
    if ox1 > P[core, OUT_W] - 1:
        ox1 = P[core, OUT_W] - 1
    if sy == 1:
        oy0 = ay - k + 1
        oy1 = ay
    else:
        oy0 = -((k - 1 - ay) // sy)
        oy1 = ay // sy
    if oy0 < 0:
        oy0 = 0
    if oy1 > P[core, OUT_H] - 1:
        oy1 = P[core, OUT_H] - 1
    in_ev[core] += 1
    n = 0
    if ox1 < ox0 or oy1 < oy0:
        if trn[2] == 0:
            return sp
        # tracing: a delivery without targets still reaches the core; keep a frame so that it is traced in
        # processing order (the frame is popped as soon as it is traced)
    else:
        n = P[core, OUT_F] * (oy1 - oy0 + 1) * (ox1 - ox0 + 1)
        synops[core] += n
        ev_syn[row, P[core, COL]] += n
    if sp >= stack.shape[0]:
        return -1
    stack[sp, 0] = core
    stack[sp, 1] = c
    stack[sp, 2] = x
    stack[sp, 3] = y
    stack[sp, 4] = 0
    stack[sp, 5] = oy0
    stack[sp, 6] = ox0
    stack[sp, 7] = oy0
    stack[sp, 8] = oy1
    stack[sp, 9] = ox0
    stack[sp, 10] = ox1
    stack[sp, 11] = -1
    stack[sp, 12] = parent
    stack[sp, 13] = n
    return sp + 1

@jit_inline
def _pooled(v, pool):
    """``v // pool`` for a coordinate ``v >= 0``, without a division for the chip's poolings 1, 2 and 4."""
    if pool == 1:
        return v
    if pool == 2:
        return v >> 1
    if pool == 4:
        return v >> 2
    return v // pool


@jit_inline
def _emit(P, stack, sp, core, o, oy, ox, t, row, counts, dec, spikes, in_ev, synops, ev_syn, out, ctr, tr, trn,
          src, budget):
    """A neuron of ``core`` spiked: count, decimate, monitor, push its destinations (1 first, so 0 runs first).
    Returns the new stack pointer, or a negative code."""
    counts[state_index(P, core, o, oy, ox)] += 1
    spikes[core] += 1
    budget[B_COUNT] += 1
    if budget[B_COUNT] - budget[B_START] > budget[B_PER_EVENT] or budget[B_COUNT] > budget[B_TOTAL]:
        return RC_RUNAWAY
    if P[core, MON] & 2:
        _record(out, ctr, t, LOG - core, o, ox, oy)
    if P[core, DEC_N] > 0:
        dec[core] += 1
        if dec[core] < P[core, DEC_N]:
            return sp
        dec[core] = 0
    if P[core, MON] & 1:
        _record(out, ctr, t, core, o, ox, oy)
        if src >= 0 and src < tr.shape[0]:
            tr[src, 4] += 1
    for d in range(P[core, N_DEST] - 1, -1, -1):
        base = D0_LAYER + 3 * d
        layer = P[core, base]
        pool = P[core, base + 1]
        f = o + P[core, base + 2]
        if layer == RO:  # a deferred record: a frame with core = RO
            if sp >= stack.shape[0]:
                return -1
            stack[sp, 0] = RO
            stack[sp, 1] = f
            stack[sp, 2] = _pooled(ox, pool)
            stack[sp, 3] = _pooled(oy, pool)
            sp += 1
        else:
            sp = _push(P, stack, sp, layer, f, _pooled(ox, pool), _pooled(oy, pool), t, row, in_ev, synops, ev_syn, out, ctr,
                       trn, src)
            if sp < 0:
                return sp
    return sp

@jit
def _sift_down(a, lo, root, end):
    while True:
        child = 2 * root + 1
        if child >= end:
            return
        if child + 1 < end and a[lo + child + 1] > a[lo + child]:
            child += 1
        if a[lo + root] >= a[lo + child]:
            return
        a[lo + root], a[lo + child] = a[lo + child], a[lo + root]
        root = child


@jit
def _heapsort(a, lo, hi):
    """Sort a[lo:hi] in place without allocating."""
    n = hi - lo
    for start in range(n // 2 - 1, -1, -1):
        _sift_down(a, lo, start, n)
    for end in range(n - 1, 0, -1):
        a[lo], a[lo + end] = a[lo + end], a[lo]
        _sift_down(a, lo, 0, end)


@jit_inline
def _sort_small(a, lo, hi):
    """Sort a[lo:hi] in place (insertion sort: a handful of spikes per event; heapsort beyond that)."""
    if hi - lo > 32:
        _heapsort(a, lo, hi)
        return
    for i in range(lo + 1, hi):
        v = a[i]
        j = i - 1
        while j >= lo and a[j] > v:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = v


@jit_inline
def kx_position(kx, k, sx):
    """Where kernel column ``kx`` (of ``k``, stride ``sx``) is stored in a core's weights (``[in][ky][position][out]``):
    the columns grouped by ``kx % sx``, each group in descending ``kx``.  The targets of one event in one output row,
    ``ox = ox0, ox0 + 1, ...``, use columns ``kx0, kx0 - sx, ...``, which are then stored one after the other, as
    their states are: one row of targets is one contiguous run of states against one contiguous run of weights."""
    if sx == 1:
        return k - 1 - kx
    r = kx % sx
    base = 0
    for rr in range(r):
        base += (k - 1 - rr) // sx + 1
    return base + (k - 1 - r) // sx - kx // sx


@jit_inline
def lane(v, w, threshold_low, threshold_high, saturate, return_to_zero):
    """``integrate`` then ``fire`` (runtime/neuron.py) for an int16 state ``v``, an int8 weight ``w`` and int16
    thresholds, written in 32-bit integers that never overflow and cast back at each step, so that LLVM can run
    16 neurons per AVX2 instruction: the same results as the neuron functions for these ranges (the property tests
    and tests/test_simulator_fast_paths.py check it).  Returns ``(v, spiked)``."""
    a = np.int32(np.int32(v) + np.int32(w))
    if saturate:
        a = np.int32(min(max(a, INT16_MIN), INT16_MAX))
    else:
        a = np.int32(np.int16(a))  # modulo 2**16, as neuron.integrate's wrap
    a = np.int32(max(a, threshold_low))
    spiked = a >= threshold_high
    if return_to_zero:
        r = np.int32(0)
    else:
        r = np.int32(min(max(np.int32(a - threshold_high), INT16_MIN), INT16_MAX))
    return np.int16(r if spiked else a), spiked


def _pointer(dtype):
    """A numba intrinsic that turns an address (an integer from ``array.ctypes.data``) into a pointer to ``dtype``."""
    ptr = types.CPointer(dtype)

    @intrinsic
    def to_pointer(typingctx, addr):
        def codegen(context, builder, signature, args):
            return builder.inttoptr(args[0], context.get_value_type(ptr))
        return ptr(types.intp), codegen
    return to_pointer


_i16_at = _pointer(types.int16)
_i8_at = _pointer(types.int8)
_u8_at = _pointer(types.uint8)


def _make_run(saturate, return_to_zero):
    def run(s_addr, w_addr, f_addr, n, thl, thh):
        """Update the ``n`` contiguous int16 states at address ``s_addr`` with the int8 weights at ``w_addr``; the
        byte at ``f_addr + j`` says whether state ``j`` spiked.  Returns nonzero when one did.  A function of its own
        (not inlined by numba), so that LLVM vectorizes it the same way whatever the code around it (16 lanes wide,
        with the 16-bit ``lane`` and 8-bit flags); it takes addresses rather than arrays, so that the call passes 6
        numbers instead of 3 array structures of 7 words each, and the loop needs no negative-index checks."""
        S = _i16_at(s_addr)
        W = _i8_at(w_addr)
        flags = _u8_at(f_addr)
        any_spike = np.int16(0)
        for j in range(n):
            v, spiked = lane(S[j], W[j], thl, thh, saturate, return_to_zero)
            S[j] = v
            flags[j] = np.uint8(spiked)
            any_spike = np.int16(any_spike | np.int16(spiked))
        return any_spike
    return jit(run)


# one copy of the loop for each choice of the two rules, fixed at compile time
_run_sat_rtz = _make_run(True, True)
_run_sat_sub = _make_run(True, False)
_run_wrap_rtz = _make_run(False, True)
_run_wrap_sub = _make_run(False, False)


@jit_inline
def _update_all(P, W, S, flags, fired, top, core, c, ax, ay, oy0, oy1, ox0, ox1, sat):
    """Update every target neuron of event (c, ax - px, ay - py) at an acyclic ``core``; append the spikes to
    ``fired`` as keys ``o << 32 | y << 16 | x``, sorted: they come in ascending (feature, y, x) order.  Returns the
    new top of ``fired``.  Each output row of targets is one run of states against one run of weights
    (``kx_position``)."""
    F = P[core, OUT_F]
    k = P[core, K]
    sx = P[core, SX]
    sy = P[core, SY]
    ow = P[core, OUT_W]
    thh = np.int16(P[core, THH])
    thl = np.int16(P[core, THL])
    rtz = P[core, RTZ] != 0
    n = (ox1 - ox0 + 1) * F
    wc = P[core, W_OFF] + (c * k * k + kx_position(ax - ox0 * sx, k, sx)) * F
    start = top
    words = flags.view(np.uint64)
    s_addr = S.ctypes.data
    w_addr = W.ctypes.data
    f_addr = flags.ctypes.data
    for oy in range(oy0, oy1 + 1):
        wb = w_addr + (wc + (ay - oy * sy) * k * F)  # (int8 weights: one byte each)
        sb = s_addr + 2 * (P[core, S_OFF] + (oy * ow + ox0) * F)  # (int16 states)
        if sat:
            if rtz:
                spiked = _run_sat_rtz(sb, wb, f_addr, n, thl, thh)
            else:
                spiked = _run_sat_sub(sb, wb, f_addr, n, thl, thh)
        elif rtz:
            spiked = _run_wrap_rtz(sb, wb, f_addr, n, thl, thh)
        else:
            spiked = _run_wrap_sub(sb, wb, f_addr, n, thl, thh)
        if spiked:  # find the few spikes: one flag at a time in a short row, 8 at a time in a long one (an
            # 8-byte load of flags just written byte by byte waits for the stores: worth it only for long rows)
            if n <= 32:
                for j in range(n):
                    if flags[j]:
                        dx = j // F
                        fired[top] = ((j - dx * F) << 32) | (oy << 16) | (ox0 + dx)
                        top += 1
            else:
                for wi in range((n + 7) >> 3):
                    if words[wi] != 0:
                        for j in range(wi << 3, min((wi << 3) + 8, n)):
                            if flags[j]:
                                dx = j // F
                                fired[top] = ((j - dx * F) << 32) | (oy << 16) | (ox0 + dx)
                                top += 1
    if top - start > 1 and (oy1 > oy0 or ox1 > ox0):
        _sort_small(fired, start, top)
    return top


@jit_inline
def _drain(P, W, S, stack, sp, t, row, sat, counts, dec, spikes, in_ev, synops, ev_syn, out, ctr, tr, trn, fired,
           flags, budget):
    """Run the stack of pending deliveries to completion, depth-first.  Returns 0, or a negative code."""
    top = 0  # top of ``fired``: the spikes still to be handled of the acyclic frames on the stack
    while sp > 0:
        fr = sp - 1
        core = stack[fr, 0]
        c = stack[fr, 1]
        x = stack[fr, 2]
        y = stack[fr, 3]
        if core == RO:
            sp -= 1
            _record(out, ctr, t, RO, c, x, y)
            continue
        if trn[2] != 0 and stack[fr, 11] < 0:  # first visit of a traced delivery: record it
            k = trn[0]
            if k < tr.shape[0]:
                tr[k, 0] = t
                tr[k, 1] = core
                tr[k, 2] = stack[fr, 13]
                tr[k, 3] = stack[fr, 12]
                tr[k, 4] = 0
            else:
                trn[1] = 1
            trn[0] = k + 1
            stack[fr, 11] = k
            if stack[fr, 13] == 0:  # no targets
                sp -= 1
                continue
        oy0 = stack[fr, 7]
        oy1 = stack[fr, 8]
        ox0 = stack[fr, 9]
        ox1 = stack[fr, 10]
        if P[core, CYC] == 0:
            if stack[fr, 4] >= 0:  # first visit: update every target, then hand out the spikes one by one
                start = top
                top = _update_all(P, W, S, flags, fired, top, core, c, x + P[core, PX], y + P[core, PY], oy0, oy1, ox0,
                                  ox1, sat)
                stack[fr, 4] = -1 - start
                stack[fr, 5] = top
                stack[fr, 6] = start
            nxt = -1 - stack[fr, 4]
            if nxt >= stack[fr, 5]:
                top = stack[fr, 6]
                sp -= 1
                continue
            stack[fr, 4] = -2 - nxt
            key = fired[nxt]
            so = key >> 32
            soy = (key >> 16) & 0xFFFF
            sox = key & 0xFFFF
        else:
            o = stack[fr, 4]
            oy = stack[fr, 5]
            ox = stack[fr, 6]
            F = P[core, OUT_F]
            k = P[core, K]
            sx = P[core, SX]
            sy = P[core, SY]
            ax = x + P[core, PX]
            ay = y + P[core, PY]
            ow = P[core, OUT_W]
            thh = P[core, THH]
            thl = P[core, THL]
            rtz = P[core, RTZ] != 0
            wbase = P[core, W_OFF] + c * F * k * k
            sbase = P[core, S_OFF]
            fired_now = False
            so = 0
            soy = 0
            sox = 0
            while o < F:
                while oy <= oy1:
                    wrow = wbase + (ay - oy * sy) * k * F + o
                    srow = sbase + oy * ow * F + o
                    while ox <= ox1:
                        v = integrate(S[srow + ox * F], W[wrow + kx_position(ax - ox * sx, k, sx) * F], thl, sat)
                        v, s = fire(v, thh, rtz)
                        S[srow + ox * F] = v
                        ox += 1
                        if s:
                            fired_now = True
                            break
                    if fired_now:
                        so = o
                        soy = oy
                        sox = ox - 1
                        break
                    ox = ox0
                    oy += 1
                if fired_now:
                    break
                oy = oy0
                o += 1
            if not fired_now:
                sp -= 1
                continue
            stack[fr, 4] = o
            stack[fr, 5] = oy
            stack[fr, 6] = ox
        sp = _emit(P, stack, sp, core, so, soy, sox, t, row, counts, dec, spikes, in_ev, synops, ev_syn, out, ctr,
                   tr, trn, stack[fr, 11], budget)
        if sp < 0:
            return sp
    return sp

@jit
def _drain_call(P, W, S, stack, sp, t, row, sat, counts, dec, spikes, in_ev, synops, ev_syn, out, ctr, tr, trn, fired,
                flags, budget):
    """``_drain`` as a function of its own, for the leak ticks (rare): the kernel compiles in half the time than with
    a second inlined copy."""
    return _drain(P, W, S, stack, sp, t, row, sat, counts, dec, spikes, in_ev, synops, ev_syn, out, ctr, tr, trn,
                  fired, flags, budget)


@jit
def run_kernel(P, W, S, B, counts, dec, ev_t, ev_c, ev_x, ev_y, ev_ok, ev_mon, entry, sat, leak_hz, leak_fire,
               leak_cores, ev_syn, in_ev, synops, spikes, out, ctr, stack, fired, flags, tr, trn, budget):
    """Simulate the events; returns 0 or a negative code (-1 stack overflow, budget.RC_*).  ``ctr``: the output
    rows made (``out`` holds the first ``len(out)`` of them) and the dropped events.  ``fired`` and ``flags``:
    work space of :func:`fired_capacity` and :func:`flags_capacity` elements."""
    ticks_done = 0
    for i in range(ev_t.shape[0]):
        t = ev_t[i]
        budget[B_START] = budget[B_COUNT]
        budget[B_EVENT] = i
        if leak_hz > 0.0:
            due = np.int64(np.floor(t * leak_hz / 1e6))
            if due > ticks_done and not leak_fire:  # ticks that cannot fire: all at once, per neuron
                n = due - ticks_done
                for li in range(leak_cores.shape[0]):
                    core = leak_cores[li]
                    oh = P[core, OUT_H]
                    ow = P[core, OUT_W]
                    thl = P[core, THL]
                    size = P[core, OUT_F] * oh * ow
                    if not sat and thl > INT16_MIN:  # no closed form: n updates per neuron, within the budget
                        if n > (budget[B_LEAK_LIMIT] - budget[B_LEAK]) // size:
                            return RC_LEAK
                        budget[B_LEAK] += n * size
                    F = P[core, OUT_F]
                    base = P[core, S_OFF]
                    for pos in range(oh * ow):  # states are [y][x][feature] (state_index)
                        for o in range(F):
                            idx = base + pos * F + o
                            S[idx] = leak_ticks(S[idx], B[core, o], thl, n, sat)
                ticks_done = due
            while ticks_done < due:  # ticks that can fire: one by one, until a tick changes nothing
                ticks_done += 1
                tt = np.int64(np.ceil(ticks_done * 1e6 / leak_hz))
                changed = False
                for li in range(leak_cores.shape[0]):
                    core = leak_cores[li]
                    oh = P[core, OUT_H]
                    ow = P[core, OUT_W]
                    thl = P[core, THL]
                    thh = P[core, THH]
                    rtz = P[core, RTZ] != 0
                    budget[B_LEAK] += P[core, OUT_F] * oh * ow
                    if budget[B_LEAK] > budget[B_LEAK_LIMIT]:
                        return RC_LEAK
                    for o in range(P[core, OUT_F]):
                        b = B[core, o]
                        for yy in range(oh):
                            for xx in range(ow):
                                idx = state_index(P, core, o, yy, xx)
                                v0 = S[idx]
                                v = integrate(v0, b, thl, sat)
                                v, s = fire(v, thh, rtz)
                                S[idx] = v
                                if s or v != v0:
                                    changed = True
                                if s:
                                    sp = _emit(P, stack, 0, core, o, yy, xx, tt, i, counts, dec, spikes, in_ev,
                                               synops, ev_syn, out, ctr, tr, trn, -1, budget)
                                    if sp < 0:
                                        return sp
                                    sp = _drain_call(P, W, S, stack, sp, tt, i, sat, counts, dec, spikes, in_ev,
                                                     synops, ev_syn, out, ctr, tr, trn, fired, flags, budget)
                                    if sp < 0:
                                        return sp
                if not changed:  # a fixed point of the tick: the remaining ticks change nothing either
                    ticks_done = due
        if not ev_ok[i]:
            continue
        if ev_mon[i]:
            _record(out, ctr, t, DVS, ev_c[i], ev_x[i], ev_y[i])
        for e in range(entry.shape[0]):
            sp = _push(P, stack, 0, entry[e], ev_c[i], ev_x[i], ev_y[i], t, i, in_ev, synops, ev_syn, out, ctr,
                       trn, -1)
            if sp < 0:
                return sp
            sp = _drain(P, W, S, stack, sp, t, i, sat, counts, dec, spikes, in_ev, synops, ev_syn, out, ctr, tr,
                        trn, fired, flags, budget)
            if sp < 0:
                return sp
    return 0


STACK_LIMIT = 1 << 16
