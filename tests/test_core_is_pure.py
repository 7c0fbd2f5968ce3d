"""core/ decides and touches nothing of the I/O world: it imports only the standard library's
computing modules and itself, and reads no file, socket, clock or environment."""

import ast
from pathlib import Path

import livefeed.core

CORE = Path(livefeed.core.__file__).parent

# What a pure function may use. Not os, sys, socket, subprocess, pathlib, time, random, logging,
# asyncio, threading, urllib.request, http, sqlite3 — anything that reaches outside the arguments.
# zoneinfo reads the time-zone database, which is data as much as a constant is.
ALLOWED = {
    "__future__",
    "base64",
    "bisect",
    "collections",
    "collections.abc",
    "csv",
    "dataclasses",
    "datetime",
    "decimal",
    "email",
    "email.message",
    "email.policy",
    "email.utils",
    "enum",
    "functools",
    "hashlib",
    "heapq",
    "hmac",
    "html",
    "html.parser",
    "io",
    "ipaddress",
    "itertools",
    "json",
    "math",
    "operator",
    "re",
    "secrets",
    "string",
    "textwrap",
    "typing",
    "unicodedata",
    "urllib.parse",
    "zoneinfo",
}
# Calls that read the world even through allowed modules: the clock, files, the environment, input.
FORBIDDEN_CALLS = {
    "now",
    "utcnow",
    "today",
    "open",
    "read_text",
    "read_bytes",
    "write_text",
    "write_bytes",
    "input",
    "getenv",
    "exec",
    "eval",
    "__import__",
    "import_module",
}


def _modules():
    for path in sorted(CORE.glob("*.py")):
        yield path, ast.parse(path.read_text())


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield node, [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            yield node, [None if node.level else node.module]


def test_core_imports_only_the_standard_librarys_computing_modules_and_itself():
    for path, tree in _modules():
        for node, names in _imports(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.level == 1, f"{path.name} reaches outside core"
                continue
            for name in names:
                assert name in ALLOWED, f"core/{path.name} imports {name}"


def test_core_calls_nothing_that_reads_the_world():
    for path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
                assert name not in FORBIDDEN_CALLS, f"core/{path.name}:{node.lineno} calls {name}()"


def test_the_purity_check_would_catch_a_socket_or_a_file_read():
    bad = ast.parse("import socket\nfrom os import environ\n\ndef f(p):\n    return open(p).read()\n")
    imported = [name for _, names in _imports(bad) for name in names]
    calls = [n.func.id for n in ast.walk(bad) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    assert [n for n in imported if n not in ALLOWED] == ["socket", "os"]
    assert "open" in FORBIDDEN_CALLS and "open" in calls
