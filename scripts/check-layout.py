#!/usr/bin/env python3
"""Checks the workspace's layout rules (ARCHITECTURE.md, "Layout"):

1. no import circle between the files of one crate: an edge A -> B when file A names
   an item of file B through `crate::...`, `super::...` or `self::...` (in a `use` or
   inline); the crate root and a file's own ancestor modules (`lib.rs`, `mod.rs`) are
   facades that declare and re-export their children, so an edge into an ancestor
   follows the ancestor's `pub use` to the file that defines the name, and is dropped
   when it names the ancestor's own item. Test modules (`#[cfg(test)] mod ...`) are
   left out;
2. no source file over 600 lines;
3. no function over 100 lines outside tests and migrations;
4. prost's wire types (`pb::...`, `yanpei_proto::pb`) only at the edge: in the proto
   crate, and in a crate's edge module, a file or directory named `grpc`, `client` or
   `wire` (tests and test modules are left out).

Findings listed in `scripts/layout-allow.txt` (one key a line, as printed in brackets)
are known and reported but do not fail; a listed key no longer found fails, so the list
only shrinks.

Usage: scripts/check-layout.py [ROOT]   (exit 1 and a list of findings on failure)
       scripts/check-layout.py --self-test   (plants a circle, a long file and a long
       function in a scratch crate and fails unless each is found)
"""

import os
import re
import sys

MAX_FILE_LINES = 600
MAX_FN_LINES = 100
EDGE_NAMES = ("grpc", "client", "wire")
WIRE = re.compile(r"(?<![\w:])pb::|\byanpei_proto::(?:pb\b|\{[^}]*\bpb\b)")


def is_edge(src, path):
    """Whether `path` (under the crate's `src`) is its gRPC edge module, or in it."""
    parts = os.path.relpath(path, src)[:-3].split(os.sep)
    return any(p in EDGE_NAMES for p in parts[:-1]) or parts[-1] in EDGE_NAMES


def strip_code(text):
    """The text with comments, strings and char literals blanked (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'\n])'", text[i:])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def matching_brace(code, open_at):
    depth = 0
    for j in range(open_at, len(code)):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(code) - 1


def without_tests(code):
    """The code with every `#[cfg(test)]` item blanked."""
    while True:
        m = re.search(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", code)
        if not m:
            return code
        end = matching_brace(code, m.end() - 1)
        code = code[:m.start()] + re.sub(r"[^\n]", " ", code[m.start():end + 1]) + code[end + 1:]


def expand_use(tree):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e']."""
    tree = re.sub(r"\s+", "", tree)
    m = re.match(r"^(.*?)\{(.*)\}$", tree)
    if not m:
        return [re.sub(r"as\w+$", "", tree)]
    prefix, inner = m.group(1), m.group(2)
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    return [p for part in parts if part for p in expand_use(prefix + part)]


class Crate:
    def __init__(self, src):
        self.src = src
        self.files = {}  # module path tuple -> file
        for dirpath, _, names in os.walk(src):
            for name in names:
                if not name.endswith(".rs"):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, src)[:-3].split(os.sep)
                if rel in (["lib"], ["main"]):
                    mod = ()
                elif rel[-1] == "mod":
                    mod = tuple(rel[:-1])
                else:
                    mod = tuple(rel)
                if mod == () and rel == ["main"] and () in self.files:
                    continue
                if len(rel) >= 1 and rel[0] == "bin":
                    continue
                self.files[mod] = path
        self.code = {m: without_tests(strip_code(open(p, encoding="utf-8").read())) for m, p in self.files.items()}
        self.reexports = {m: self.parse_reexports(m) for m in self.files}

    def uses(self, mod):
        code = self.code[mod]
        paths = []
        for m in re.finditer(r"\buse\s+([^;]*);", code):
            paths.extend(expand_use(m.group(1)))
        for m in re.finditer(r"(?<![:\w])((?:crate|super|self)(?:::\w+)+)", code):
            paths.append(m.group(1))
        return paths

    def parse_reexports(self, mod):
        out = {}
        for m in re.finditer(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]*);", self.code[mod]):
            for p in expand_use(m.group(1)):
                segs = p.split("::")
                if segs[-1] not in ("*", "self"):
                    out[segs[-1]] = segs
        return out

    def absolute(self, mod, segs):
        """Absolute module path segments for `segs` used in module `mod` (None: another crate)."""
        cur = list(mod)
        if segs[0] == "crate":
            return segs[1:]
        if segs[0] in ("super", "self"):
            while segs and segs[0] in ("super", "self"):
                if segs[0] == "super":
                    cur = cur[:-1]
                segs = segs[1:]
            return cur + segs
        # A bare path: a child module of this file, or an item of another crate.
        if tuple(cur + [segs[0]]) in self.files or any(k[:len(cur) + 1] == tuple(cur + [segs[0]]) for k in self.files):
            return cur + segs
        return None

    def resolve(self, mod, segs, depth=0):
        """The file module that defines what `segs` names, from module `mod`."""
        path = self.absolute(mod, segs)
        if path is None:
            return None
        best = ()
        for k in range(len(path), -1, -1):
            if tuple(path[:k]) in self.files:
                best = tuple(path[:k])
                break
        rest = path[len(best):]
        if rest and depth < 8 and rest[0] in self.reexports.get(best, {}):
            target = self.reexports[best][rest[0]]
            again = self.resolve(best, target + rest[1:], depth + 1)
            if again is not None:
                return again
        return best

    def edges(self):
        out = {m: set() for m in self.files}
        for mod in self.files:
            for p in self.uses(mod):
                segs = [s for s in p.split("::") if s]
                if not segs or segs[0] not in ("crate", "super", "self") and len(segs) < 2:
                    continue
                target = self.resolve(mod, segs)
                if target is None or target == mod:
                    continue
                if mod[:len(target)] == target:
                    continue  # an item of an ancestor facade itself
                out[mod].add(target)
        return out


def cycles(edges):
    """Strongly connected components with more than one file (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            visit(v)
    return out


def long_functions(path, code):
    if os.sep + "migration" in path or os.sep + "tests" + os.sep in path or path.endswith(os.sep + "tests.rs"):
        return []
    found = []
    for m in re.finditer(r"(#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+(\w+)", code):
        attrs = m.group(0)
        if re.search(r"#\[(tokio::)?test", attrs):
            continue
        brace = code.find("{", m.end())
        semi = code.find(";", m.end())
        if brace < 0 or (0 <= semi < brace):
            continue
        end = matching_brace(code, brace)
        start_line = code.count("\n", 0, m.start()) + 1
        lines = code.count("\n", brace, end) + 1 + code.count("\n", m.start(), brace)
        if lines > MAX_FN_LINES:
            found.append((start_line, m.group(2), lines))
    return found


def self_test():
    import tempfile

    with tempfile.TemporaryDirectory() as root:
        src = os.path.join(root, "crates", "planted", "src")
        os.makedirs(os.path.join(src, "web"))
        os.makedirs(os.path.join(src, "grpc"))
        files = {
            "lib.rs": "mod a;\nmod b;\nmod web;\npub use a::A;\n",
            "a.rs": "use crate::b::B;\npub struct A(B);\n",
            # b reaches a through the crate root's re-export: still a circle.
            "b.rs": "pub struct B;\nfn f() -> Option<crate::A> { None }\n",
            "web/mod.rs": "mod api;\nmod session;\n",
            "web/api.rs": "use super::session::caller;\npub(super) fn json() {}\n",
            "web/session.rs": "use super::api::json;\npub(super) fn caller() {}\n"
            + "fn long() {\n" + "    let _ = 1;\n" * 120 + "}\n"
            + "#[cfg(test)]\nmod tests {\n    fn long_test() {\n" + "        let _ = 1;\n" * 120 + "    }\n}\n",
            "big.rs": "// filler\n" * 700,
            # A prost type outside the edge is found; inside the edge it is not.
            "web/view.rs": "use yanpei_proto::{pb, roster_to_pb};\nfn v(_: pb::StatsRequest) {}\n",
            "grpc/mod.rs": "use yanpei_proto::pb;\nfn g(_: pb::StatsRequest) {}\n",
        }
        for name, text in files.items():
            with open(os.path.join(src, name), "w", encoding="utf-8") as f:
                f.write(text)
        with open(os.path.join(src, "lib.rs"), "a", encoding="utf-8") as f:
            f.write("mod big;\n")
        import subprocess

        out = subprocess.run([sys.executable, os.path.abspath(__file__), root], capture_output=True, text=True)
        expected = [
            "circle crates/planted/src/a.rs crates/planted/src/b.rs",
            "circle crates/planted/src/web/api.rs crates/planted/src/web/session.rs",
            "file crates/planted/src/big.rs",
            "fn crates/planted/src/web/session.rs long]",
            "wire crates/planted/src/web/view.rs]",
        ]
        missing = [e for e in expected if e not in out.stdout]
        if out.returncode != 1 or missing or "long_test" in out.stdout or "wire crates/planted/src/grpc" in out.stdout:
            print(out.stdout)
            print(f"check-layout self-test FAILED: exit {out.returncode}, missing {missing}")
            sys.exit(1)
        print("check-layout self-test: the planted circles, long file, long function and wire type are found")


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    findings = []  # (key, message)
    srcs = []
    for name in sorted(os.listdir(os.path.join(root, "crates"))):
        src = os.path.join(root, "crates", name, "src")
        if os.path.isdir(src):
            srcs.append(src)
    tests_src = os.path.join(root, "tests", "src")
    if os.path.isdir(tests_src):
        srcs.append(tests_src)
    for src in srcs:
        crate = Crate(src)
        for comp in cycles(crate.edges()):
            files = [os.path.relpath(crate.files[m], root) for m in comp]
            key = "circle " + " ".join(files)
            findings.append((key, "import circle: " + " <-> ".join(files)))
        for mod, path in sorted(crate.files.items()):
            rel = os.path.relpath(path, root)
            lines = open(path, encoding="utf-8").read().count("\n")
            if lines > MAX_FILE_LINES and os.sep + "migration" not in path:
                findings.append((f"file {rel}", f"{rel}: {lines} lines (over {MAX_FILE_LINES})"))
            for line, name, n in long_functions(path, crate.code[mod]):
                findings.append((f"fn {rel} {name}", f"{rel}:{line}: fn {name} is {n} lines (over {MAX_FN_LINES})"))
            wire = WIRE.search(crate.code[mod])
            if wire and os.sep.join(["crates", "proto", "src"]) not in path and not is_edge(src, path):
                line = crate.code[mod].count("\n", 0, wire.start()) + 1
                findings.append((f"wire {rel}", f"{rel}:{line}: names a prost type outside the gRPC edge"))
    allow_path = os.path.join(root, "scripts", "layout-allow.txt")
    allowed = set()
    if os.path.exists(allow_path):
        for line in open(allow_path, encoding="utf-8"):
            line = line.strip()
            if line and not line.startswith("#"):
                allowed.add(line)
    failed = 0
    for key, message in findings:
        if key in allowed:
            print(f"known: {message}  [{key}]")
        else:
            print(f"NEW:   {message}  [{key}]")
            failed += 1
    found = {k for k, _ in findings}
    for key in sorted(allowed - found):
        print(f"STALE: {key} is listed in scripts/layout-allow.txt but no longer found: remove it")
        failed += 1
    circles = sum(k.startswith("circle") for k, _ in findings)
    wires = sum(k.startswith("wire") for k, _ in findings)
    print(
        f"check-layout: {len(srcs)} crates, {circles} import circles, {wires} wire types outside the edge, "
        f"{len(findings) - circles - wires} size findings, "
        f"{sum(k in allowed for k, _ in findings)} known, {failed} failing"
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
