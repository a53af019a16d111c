"""When a timed event is due: the one piece of event-timing code groups and edges share."""
from __future__ import annotations


def emit_due(fn, depth, at, every, names, loads):
    """Emit `due` for an event whose times are numbers or per-unit parameter names."""
    def value(v):
        if isinstance(v, str):
            fn.emit(depth, loads[v])
            return names[v]
        return repr(float(v))
    # Times beyond ~1e18 steps (e.g. t_block = inf or 1e300: "never") must not overflow.
    at_value = value(at)
    every_value = value(every) if every is not None else None
    fn.emit(depth, f"_fa = {at_value} / dt")
    fn.emit(depth, "due = False")
    fn.emit(depth, "if _fa < 1e18:")
    fn.emit(depth + 1, "_ka = int(round(_fa))")
    if every is None:
        fn.emit(depth + 1, "due = k == _ka")
    else:
        fn.emit(depth + 1, f"_fe = {every_value} / dt")
        fn.emit(depth + 1, "if _fe < 1e18:")
        fn.emit(depth + 2, "_ke = max(1, int(round(_fe)))")
        fn.emit(depth + 2, "due = k >= _ka and (k - _ka) % _ke == 0")
