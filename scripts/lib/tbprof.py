#!/usr/bin/env python3
"""Instructions per function of the RMM during REC enter/exit round trips, from the execution
trace QEMU writes with `-d in_asm,exec,nochain -dfilter RMM_RANGE` (scripts/profile-rec-enter).

usage: tbprof.py TRACE NM_OUTPUT SEGMENT_FUNC N DELIM_PC [TOP]

The trace is cut into RMI calls at each execution of the translation block at DELIM_PC (the
instruction after the RMI loop's SMC); of the calls that ran a function whose name contains
SEGMENT_FUNC, the last N are kept. memcpy and memset are charged to their caller."""
import bisect
import collections
import re
import sys

MEM = ('memcpy', 'memset', 'memmove', 'memcmp', 'bcmp')


def main():
    trace, nmfile, segfunc, n, delim = sys.argv[1:6]
    n, delim = int(n), int(delim, 16)
    top = int(sys.argv[6]) if len(sys.argv) > 6 else 40
    syms = []
    for line in open(nmfile):
        parts = line.split(None, 3)
        if len(parts) == 4 and parts[2] in 'tTwW':
            syms.append((int(parts[0], 16), int(parts[1], 16), parts[3].strip()))
    syms.sort()
    starts = [s[0] for s in syms]

    def sym(pc):
        i = bisect.bisect_right(starts, pc) - 1
        if i >= 0 and pc < syms[i][0] + max(syms[i][1], 4):
            return syms[i][2]
        return '?%x' % pc

    # Each translation block is printed once (in_asm) before its first execution (exec).
    size, pending, calls, cur = {}, [], [], []
    insn = re.compile(r'^0x([0-9a-f]+):')
    tb = re.compile(r'^Trace \d+: \S+ \[[0-9a-f]+/([0-9a-f]+)/[0-9a-f]+/([0-9a-f]+)\]')
    for line in open(trace):
        m = insn.match(line)
        if m:
            pending.append(int(m.group(1), 16))
            continue
        m = tb.match(line)
        if m:
            pc, key = int(m.group(1), 16), (int(m.group(1), 16), m.group(2))
            if pending:
                size[key], pending = len(pending), []
            if pc == delim and cur:
                calls.append(cur)
                cur = []
            cur.append((pc, size.get(key, 1)))
    calls.append(cur)
    chosen = [c for c in calls if any(segfunc in sym(pc) for pc, _ in c)][-n:]
    if not chosen:
        sys.exit('no RMI call ran a function named like %r' % segfunc)
    total = collections.Counter()
    for call in chosen:
        caller = prev = None
        for pc, count in call:
            name = sym(pc)
            shown = name
            if name in MEM:
                if prev not in MEM:
                    caller = prev
                shown = '%s <- %s' % (name, caller)
            total[shown] += count
            prev = name
    per = 1.0 / len(chosen)
    print('%d RMI calls, %.0f RMM instructions each' % (len(chosen), sum(total.values()) * per))
    for name, count in total.most_common(top):
        print('%8.0f  %s' % (count * per, name))


if __name__ == '__main__':
    main()
