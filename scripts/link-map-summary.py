#!/usr/bin/python3
"""What a linked edge-agent is made of, from its GNU ld map (edge-agent.map, written next to the
binary by agent/cli/CMakeLists.txt): bytes of loaded sections (.text, .rodata, .data, .eh_frame,
...) per origin: our own code, and each static archive linked in (librabbitmq.a, libstdc++.a,
libgcc). Used by scripts/bench-footprint.sh (size) for docs/BENCHMARKS.md "Binary size".

  scripts/link-map-summary.py build/native/agent/cli/edge-agent.map

The rest of the stripped file (ELF and program headers, dynamic symbol and relocation tables,
PLT, segment alignment) is not in any input section and is printed as the remainder by the caller.
"""
import collections
import re
import sys

LOADED = ('.text', '.rodata', '.data', '.bss', '.tbss', '.tdata', '.eh_frame',
          '.gcc_except_table', '.init_array', '.fini_array')


def origin(path):
    if 'librabbitmq' in path:
        return 'librabbitmq.a (rabbitmq-c)'
    if 'libstdc++' in path:
        return 'libstdc++.a'
    if 'libgcc' in path:
        return 'libgcc.a, libgcc_eh.a'
    if 'libedge' in path or 'CMakeFiles' in path:
        return 'edge-agent (our code)'
    return 'crt, libc_nonshared.a'


def main(map_path):
    lines = open(map_path, encoding='utf-8', errors='replace').read().split('\n')
    try:
        start = lines.index('Linker script and memory map')
    except ValueError:
        sys.exit(f'link-map-summary: {map_path} is not a GNU ld map (no "Linker script and memory map")')
    sizes = collections.Counter()
    out_section = None
    pending = None  # an input section name too long to share its line with address and size
    for line in lines[start:]:
        m = re.match(r'^(\.\S+)(\s+0x[0-9a-f]+\s+0x[0-9a-f]+.*)?$', line)
        if m:
            out_section, pending = m.group(1), None
            continue
        m = re.match(r'^ (\.\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)$', line)
        if m:
            _, addr, size, path = m.groups()
        else:
            m = re.match(r'^ (\.\S+)$', line)
            if m:
                pending = m.group(1)
                continue
            m = re.match(r'^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)$', line)
            if not (m and pending):
                pending = None
                continue
            addr, size, path = m.groups()
        pending = None
        if int(addr, 16) == 0 or out_section is None or not out_section.startswith(LOADED):
            continue  # discarded or not loaded (debug info, comments)
        kind = 'bss' if out_section.startswith(('.bss', '.tbss')) else 'file'
        sizes[(origin(path), kind)] += int(size, 16)
    total = 0
    for name in sorted({o for o, _ in sizes}, key=lambda o: -sizes[(o, 'file')]):
        total += sizes[(name, 'file')]
        print(f"      {name:28s} {sizes[(name, 'file')] / 1024:7.1f} KiB (+ {sizes[(name, 'bss')] / 1024:.1f} KiB bss)")
    print(f"      {'sections total':28s} {total / 1024:7.1f} KiB")


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit('usage: link-map-summary.py EDGE_AGENT_MAP')
    main(sys.argv[1])
