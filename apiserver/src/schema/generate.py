#!/usr/bin/env python3
"""Prints schema/table.rs: reads the Go API types of kubernetes/api and
kubernetes/apimachinery at one release tag (struct tags: JSON name, omitempty,
protobuf field number; whether the Go type is a pointer; TypeMeta embedding)
for every type reachable from the kinds named on the command line.

    generate.py API_GIT_DIR MACHINERY_GIT_DIR TAG ROOT... > table.rs

API_GIT_DIR and MACHINERY_GIT_DIR are git directories of the two repositories
(only `git show TAG:path` is run in them); ROOT is `core/v1.Pod` and so on.
Nothing is built or run from them: only names and numbers are read."""
import re
import subprocess
import sys

API, MACHINERY, TAG = sys.argv[1:4]

PACKAGES = {
    # package id -> (repo, dir)
    "meta/v1": (MACHINERY, "pkg/apis/meta/v1"),
}
GROUPS = [
    "core/v1", "apps/v1", "batch/v1", "autoscaling/v1", "autoscaling/v2", "policy/v1",
    "networking/v1", "discovery/v1", "coordination/v1", "events/v1", "storage/v1",
    "scheduling/v1", "node/v1", "certificates/v1", "rbac/v1", "admissionregistration/v1",
    "authentication/v1", "authorization/v1",
]
for g in GROUPS:
    PACKAGES[g] = (API, g)

IMPORTS = {
    "k8s.io/apimachinery/pkg/apis/meta/v1": "meta/v1",
    "k8s.io/apimachinery/pkg/api/resource": "resource",
    "k8s.io/apimachinery/pkg/util/intstr": "intstr",
    "k8s.io/apimachinery/pkg/runtime": "runtime",
    "k8s.io/apimachinery/pkg/types": "types",
}
for g in GROUPS:
    IMPORTS["k8s.io/api/" + g] = g

# Types with a wire form of their own (the decoder knows them by these names).
SPECIAL = {
    "meta/v1.Time": "Time", "meta/v1.MicroTime": "MicroTime", "meta/v1.Duration": "Duration",
    "meta/v1.FieldsV1": "Raw", "runtime.RawExtension": "Raw", "resource.Quantity": "Quantity",
    "intstr.IntOrString": "IntOrString", "types.UID": "String", "meta/v1.TypeMeta": None,
}
SCALARS = {
    "string": "String", "bool": "Bool", "int": "Int", "int32": "Int", "int64": "Int", "uint32": "Int",
    "uint64": "Int", "float64": "Float", "float32": "Float", "byte": "Int",
}


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True, text=True).stdout


def go_files(pkg):
    repo, d = PACKAGES[pkg]
    names = git(repo, "ls-tree", "--name-only", f"{TAG}:{d}").split()
    for n in names:
        if n.endswith(".go") and not n.endswith("_test.go") and not n.startswith("zz_") and n not in (
            "generated.pb.go", "types_swagger_doc_generated.go"):
            yield git(repo, "show", f"{TAG}:{d}/{n}")


structs = {}   # "pkg.Name" -> list of field dicts
typemeta = set()  # structs that embed TypeMeta: apiVersion and kind are theirs in JSON
aliases = {}   # "pkg.Name" -> ("string"|"map"|"slice", elem type expr, pkg, imports)

for pkg in PACKAGES:
    for src in go_files(pkg):
        imports = {}
        block = re.search(r"^import \((.*?)^\)", src, re.M | re.S)
        for m in re.finditer(r'^\s*(?:(\w+)\s+)?"([^"]+)"\s*$', block.group(1) if block else "", re.M):
            alias, path = m.group(1), m.group(2)
            if path in IMPORTS:
                imports[alias or path.rsplit("/", 1)[1]] = IMPORTS[path]
        for m in re.finditer(r'^import (?:(\w+) )?"([^"]+)"', src, re.M):
            if m.group(2) in IMPORTS:
                imports[m.group(1) or m.group(2).rsplit("/", 1)[1]] = IMPORTS[m.group(2)]
        for m in re.finditer(r"^type (\w+) struct \{\n(.*?)^\}", src, re.M | re.S):
            name, body = m.group(1), m.group(2)
            fields = []
            for line in body.split("\n"):
                line = line.strip()
                if not line or line.startswith("//"):
                    continue
                t = re.search(r"`([^`]*)`", line)
                tags = t.group(1) if t else ""
                decl = line[: t.start()].strip() if t else line
                pb = re.search(r'protobuf:"([^"]*)"', tags)
                js = re.search(r'json:"([^"]*)"', tags)
                if not pb:
                    if decl in ("metav1.TypeMeta", "TypeMeta") and js and js.group(1) == ",inline":
                        typemeta.add(f"{pkg}.{name}")
                    continue
                parts = decl.split()
                if len(parts) == 1:
                    fname, ftype = None, parts[0]
                else:
                    fname, ftype = parts[0], " ".join(parts[1:])
                pbparts = pb.group(1).split(",")
                if len(pbparts) < 2:
                    continue
                number = int(pbparts[1])
                jsparts = (js.group(1) if js else "").split(",")
                jname = jsparts[0]
                inline = "inline" in jsparts[1:]
                omitempty = "omitempty" in jsparts[1:]
                if jname == "-":
                    continue
                fields.append(dict(go=fname, type=ftype, number=number, json=jname, inline=inline,
                                   omitempty=omitempty, pkg=pkg, imports=imports))
            structs[f"{pkg}.{name}"] = fields
        for m in re.finditer(r"^type (\w+) (map\[\w+\]\S+|\[\]\S+|string|int32|int64|bool)\s*$", src, re.M):
            aliases[f"{pkg}.{m.group(1)}"] = (m.group(2), pkg, imports)


def resolve(expr, pkg, imports):
    """A Go type expression -> (kind, detail), kind one of scalar/special/message/map/slice."""
    if expr.startswith("*"):
        return resolve(expr[1:], pkg, imports)
    if expr.startswith("[]byte"):
        return ("scalar", "Bytes")
    if expr.startswith("[]"):
        return ("slice", resolve(expr[2:], pkg, imports))
    if expr.startswith("map["):
        value = expr[expr.index("]") + 1:]
        return ("map", resolve(value, pkg, imports))
    if expr in SCALARS:
        return ("scalar", SCALARS[expr])
    if "." in expr:
        alias, name = expr.split(".", 1)
        target = imports.get(alias)
        if target is None:
            raise SystemExit(f"unknown import {alias} in {pkg} ({expr})")
        full = f"{target}.{name}"
    else:
        full = f"{pkg}.{expr}"
    if full in SPECIAL:
        return ("special", SPECIAL[full])
    if full in structs:
        return ("message", full)
    if full in aliases:
        base, apkg, aimports = aliases[full]
        inner = resolve(base, apkg, aimports)
        if inner[0] == "slice":
            # A named slice travels as a message with the items in field 1.
            return ("named_slice", inner[1])
        return inner
    raise SystemExit(f"unknown type {full} (in {pkg})")


def rust_ty(r):
    kind, detail = r
    if kind == "scalar":
        return f"Ty::{detail}"
    if kind == "special":
        return f"Ty::{detail}"
    if kind == "message":
        return f'Ty::Message("{detail}")'
    raise SystemExit(f"no rust type for {r}")


# Only types reachable from the kinds bramble serves, and DeleteOptions.
used = set()
out_structs = {}


def visit(full):
    if full in used:
        return
    used.add(full)
    rows = []
    for f in structs[full]:
        pointer = f["type"].startswith("*")
        r = resolve(f["type"], f["pkg"], f["imports"])
        repeated = False
        map_value = None
        if r[0] == "slice":
            repeated = True
            r = r[1]
        elif r[0] == "named_slice":
            repeated = True
            r = r[1]
            # Named slices are wrapped in a message {items = 1}; say so.
            rows.append(dict(f, ty=rust_ty(r), repeated=True, pointer=pointer, wrapped=True, map=False))
            if r[0] == "message":
                visit(r[1])
            continue
        elif r[0] == "map":
            map_value = r[1]
            if map_value[0] == "named_slice":
                rows.append(dict(f, ty=rust_ty(map_value[1]), repeated=True, pointer=pointer, wrapped=True, map=True))
                continue
            r = map_value
        if r[0] == "message":
            visit(r[1])
        rows.append(dict(f, ty=rust_ty(r), repeated=repeated, pointer=pointer, wrapped=False, map=map_value is not None))
    if full in typemeta:
        base = dict(number=0, inline=False, omitempty=True, repeated=False, pointer=False, wrapped=False, map=False, ty="Ty::String")
        rows = [dict(base, json="apiVersion"), dict(base, json="kind")] + rows
    out_structs[full] = rows


ROOTS = sys.argv[4:]
for root in ROOTS:
    visit(root)
visit("meta/v1.DeleteOptions")

print("// @generated from the Go API types of kubernetes/api and kubernetes/apimachinery " + TAG + ":")
print("// the protobuf field number, JSON name, omitempty and pointer-ness of every field of every type")
print("// reachable from the kinds bramble serves; field number 0 marks the apiVersion and kind of types that")
print("// embed TypeMeta (they have no protobuf number). See schema/mod.rs for how it is made. Do not edit by hand.")
print()
print("use super::Ty::*;")
print("use super::{f, Field, INLINE, MAP, NONE, OMIT, PTR, REP, WRAP};")
print()
print("/// Every message type, sorted by name.")
print("pub static MESSAGES: &[(&str, &[Field])] = &[")
for full in sorted(out_structs):
    print(f'    ("{full}", &[')
    for r in out_structs[full]:
        flags = [n for n, on in (("REP", r["repeated"]), ("MAP", r["map"]), ("WRAP", r["wrapped"]), ("PTR", r["pointer"]), ("OMIT", r["omitempty"]), ("INLINE", r["inline"])) if on]
        ty = r["ty"].replace("Ty::", "")
        print(f'        f({r["number"]}, "{r["json"]}", {ty}, {" | ".join(flags) or "NONE"}),')
    print("    ]),")
print("];")
