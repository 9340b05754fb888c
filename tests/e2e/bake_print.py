#!/usr/bin/env python3
"""Resolve docker-bake.hcl as `docker buildx bake --print` does, for the tests.

Reads the subset of HCL the file uses (variable, group and target blocks;
strings with ${VAR} interpolation, lists, maps; # comments), resolves
variables (the environment overrides their defaults, as with bake) and
`inherits`, and prints {"group": ..., "target": ...} as JSON. Anything
outside that subset is an error, so the file cannot drift into syntax this
check does not understand.

usage: bake_print.py FILE [TARGET...]
"""
import json
import os
import re
import sys

TOKEN = re.compile(r'\s*(?:(#[^\n]*)|("(?:[^"\\]|\\.)*")|([A-Za-z_][A-Za-z0-9_-]*)|(.))', re.S)


def tokens(text):
    pos = 0
    out = []
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
        comment, string, ident, char = m.groups()
        if comment:
            continue
        if string is not None:
            out.append(("str", json.loads(string)))
        elif ident is not None:
            out.append(("id", ident))
        elif char is not None and not char.isspace():
            out.append(("op", char))
    return out


class Parser:
    def __init__(self, toks):
        self.toks = toks
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self, kind=None, value=None):
        tok = self.peek()
        if tok[0] is None or (kind and tok[0] != kind) or (value and tok[1] != value):
            raise SyntaxError(f"expected {value or kind}, got {tok[1]!r} (token {self.i})")
        self.i += 1
        return tok[1]

    def body(self, end):
        attrs, blocks = {}, []
        while self.peek() != ("op", end) and self.peek()[0] is not None:
            name = self.take("id")
            if self.peek() == ("op", "="):
                self.take("op", "=")
                attrs[name] = self.value()
            else:
                labels = []
                while self.peek()[0] == "str":
                    labels.append(self.take("str"))
                self.take("op", "{")
                inner_attrs, inner_blocks = self.body("}")
                if inner_blocks:
                    raise SyntaxError(f"nested blocks in {name} are not supported")
                self.take("op", "}")
                blocks.append((name, labels, inner_attrs))
            if self.peek() == ("op", ","):
                self.take("op", ",")
        return attrs, blocks

    def value(self):
        kind, val = self.peek()
        if kind == "str":
            return self.take("str")
        if (kind, val) == ("op", "["):
            self.take("op", "[")
            items = []
            while self.peek() != ("op", "]"):
                items.append(self.value())
                if self.peek() == ("op", ","):
                    self.take("op", ",")
            self.take("op", "]")
            return items
        if (kind, val) == ("op", "{"):
            self.take("op", "{")
            attrs, blocks = self.body("}")
            if blocks:
                raise SyntaxError("blocks inside a map")
            self.take("op", "}")
            return attrs
        if kind == "id" and val in ("true", "false"):
            self.take("id")
            return val == "true"
        raise SyntaxError(f"unsupported value {val!r}")


def main():
    path, wanted = sys.argv[1], sys.argv[2:]
    parser = Parser(tokens(open(path).read()))
    attrs, blocks = parser.body(None)
    if attrs:
        raise SyntaxError(f"top-level attributes are not supported: {sorted(attrs)}")
    variables, groups, targets = {}, {}, {}
    for kind, labels, body in blocks:
        if len(labels) != 1:
            raise SyntaxError(f"{kind} needs one label")
        {"variable": variables, "group": groups, "target": targets}[kind][labels[0]] = body
    values = {name: os.environ.get(name, body.get("default", "")) for name, body in variables.items()}

    def interpolate(v):
        if isinstance(v, str):
            def sub(m):
                if m.group(1) not in values:
                    raise NameError(f"undefined variable {m.group(1)}")
                return str(values[m.group(1)])
            return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", sub, v)
        if isinstance(v, list):
            return [interpolate(x) for x in v]
        if isinstance(v, dict):
            return {k: interpolate(x) for k, x in v.items()}
        return v

    def resolve(name, seen=()):
        if name in seen:
            raise ValueError(f"inherits loop at {name}")
        body = targets[name]
        out = {}
        for parent in body.get("inherits", []):
            for k, v in resolve(parent, seen + (name,)).items():
                out[k] = dict(v) if isinstance(v, dict) else v
        for k, v in body.items():
            if k == "inherits":
                continue
            if isinstance(v, dict) and isinstance(out.get(k), dict):
                out[k].update(v)
            else:
                out[k] = v
        return interpolate(out)

    names = wanted or groups.get("default", {}).get("targets", [])
    result = {
        "group": {g: {"targets": b.get("targets", [])} for g, b in groups.items()},
        "target": {n: resolve(n) for n in names},
    }
    json.dump(result, sys.stdout, indent=2, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
