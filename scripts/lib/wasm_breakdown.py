"""What the main WASM module's code is made of, for scripts/bundle-breakdown.

Reads a wasm-split main module built with v0 symbol mangling (generic arguments are in the
names), demangles the function names with rustfilt, and sums the code size of the functions
by the first gennaker item their name mentions (`app::model::cluster`, `app::pages::clusters`,
...), or by crate when they mention none: the generic code a type or page costs lands on it.
Then the largest functions of the group given with --group. Standard library only.
"""

import argparse
import collections
import re
import subprocess


def leb128(data, at):
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def functions(path):
    """(code size, name) of every function defined in the module."""
    data = open(path, "rb").read()
    at, imported, names, bodies = 8, 0, {}, []
    while at < len(data):
        section = data[at]
        size, at = leb128(data, at + 1)
        body, at = data[at:at + size], at + size
        if section == 2:  # imports: function imports come first in the index space
            count, i = leb128(body, 0)
            for _ in range(count):
                for _ in range(2):
                    length, i = leb128(body, i)
                    i += length
                kind, i = body[i], i + 1
                if kind == 0:
                    _, i = leb128(body, i)
                    imported += 1
                elif kind == 1:
                    i += 1
                    flags, i = leb128(body, i)
                    _, i = leb128(body, i)
                    if flags & 1:
                        _, i = leb128(body, i)
                elif kind == 2:
                    flags, i = leb128(body, i)
                    _, i = leb128(body, i)
                    if flags & 1:
                        _, i = leb128(body, i)
                elif kind == 3:
                    i += 2
        elif section == 10:  # code
            count, i = leb128(body, 0)
            for _ in range(count):
                length, start = leb128(body, i)
                bodies.append(length + start - i)
                i = start + length
        elif section == 0:  # custom: the "name" section's function names
            length, i = leb128(body, 0)
            if body[i:i + length] == b"name":
                i += length
                while i < len(body):
                    kind = body[i]
                    length, i = leb128(body, i + 1)
                    end = i + length
                    if kind == 1:
                        count, j = leb128(body, i)
                        for _ in range(count):
                            index, j = leb128(body, j)
                            length, j = leb128(body, j)
                            names[index] = body[j:j + length].decode("utf8", "replace")
                            j += length
                    i = end
    return [(size, names.get(index + imported, "?")) for index, size in enumerate(bodies)]


def group_of(name):
    found = re.findall(r"app::((?:pages|components|api|model)::[a-z_]+|[a-z_]+)", name)
    if found:
        return "app::" + found[0]
    crate = re.match(r"[<&\s]*(?:mut\s+)?([a-z_][a-z0-9_]*)", name)
    return crate.group(1) if crate else "?"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("module")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--group")
    args = parser.parse_args()
    items = functions(args.module)
    demangled = subprocess.run(["rustfilt"], input="\n".join(n for _, n in items), capture_output=True, text=True, check=True).stdout.split("\n")
    named = [(size, re.sub(r"\[[0-9a-f]{16}\]", "", name)) for (size, _), name in zip(items, demangled)]
    total = sum(size for size, _ in named)
    print(f"{len(named)} functions, {total} bytes of code (before wasm-opt; gzip makes it about a third)")
    groups, counts = collections.Counter(), collections.Counter()
    for size, name in named:
        groups[group_of(name)] += size
        counts[group_of(name)] += 1
    for group, size in groups.most_common(args.top):
        print(f"{size:9d} {counts[group]:6d}  {group}")
    if args.group:
        print(f"\nlargest functions of {args.group}:")
        for size, name in sorted((item for item in named if group_of(item[1]) == args.group), reverse=True)[: args.top]:
            print(f"{size:8d}  {name[:220]}")


if __name__ == "__main__":
    main()
