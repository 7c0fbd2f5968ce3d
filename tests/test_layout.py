"""The tree keeps its shape: no import cycles, and the web layer and the CLI reach the tables only
through actions and named queries (docs/architecture.md)."""

import ast
from pathlib import Path

import livefeed

PACKAGE = Path(livefeed.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}


def _imports(name: str, path: Path, *, anywhere: bool = False, source: str | None = None) -> set[str]:
    """The livefeed modules `name` imports when it is imported (or `anywhere`: in functions too)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text() if source is None else source)
    for node in ast.walk(tree) if anywhere else tree.body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("livefeed"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if not module.startswith("livefeed"):
                continue
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # `from . import x`: a module or a name
    return found


def _graph(*, anywhere: bool = False) -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: {m for m in _imports(name, path, anywhere=anywhere) if m in modules and m != name} for name, path in modules.items()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _parents_dropped(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's __init__ importing its own submodules is how packages work, not a cycle."""
    return {n: {m for m in deps if not n.startswith(m + ".")} for n, deps in graph.items()}


def test_no_import_cycles():
    assert _cycle(_parents_dropped(_graph())) is None


def test_the_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_web_and_cli_reach_the_tables_only_through_actions_and_queries():
    graph = _graph(anywhere=True)  # function-local imports count too
    importing = {
        n for n, deps in graph.items() if (n.startswith("livefeed.web") or n == "livefeed.cli") and "livefeed.db.tables" in deps
    }
    assert importing == set(), f"{sorted(importing)} import the tables: write through actions/, read through db/queries.py"


def test_the_table_rule_would_catch_a_handler_importing_the_tables():
    path = PACKAGE / "web" / "api" / "tasks.py"
    found = _imports("livefeed.web.api.tasks", path, anywhere=True)
    assert "livefeed.db.tables" not in found
    handler = "def handler():\n    from ...db.tables import users\n    return users\n"
    assert "livefeed.db.tables" in _imports("livefeed.web.api.tasks", path, anywhere=True, source=handler)


def test_the_tree_has_the_documented_folders_and_few_loose_modules():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert {"core", "edge", "pipeline", "actions", "integrations", "db", "live", "web"} <= folders
    loose = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert loose <= {"cli", "settings", "runtime", "demo"}, loose


def test_test_modules_share_through_tests_support_never_through_each_other():
    tests = Path(__file__).parent
    for path in tests.glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level and (node.module or "").startswith("test_"):
                raise AssertionError(f"{path.name} imports .{node.module}: move what it needs to tests/support/")


def test_the_pages_and_the_window_use_the_one_colour_system():
    import re

    static = PACKAGE / "web" / "static"
    defined = set(re.findall(r"(--[a-z-]+):", (static / "colors.css").read_text()))
    for sheet in ("app.css", "live.css"):
        text = (static / sheet).read_text()
        assert re.findall(r"#[0-9a-fA-F]{3,6}\b", text) == [], f"{sheet} names a raw colour: add it to colors.css"
        assert set(re.findall(r"var\((--[a-z-]+)\)", text)) <= defined, f"{sheet} uses a colour colors.css lacks"


def test_the_extension_uses_the_same_colours_prefixed_for_gmails_page():
    import json
    import re

    extension = PACKAGE.parent.parent / "extension"
    app = dict(re.findall(r"--([a-z-]+): (#[0-9a-fA-F]+);", (PACKAGE / "web" / "static" / "colors.css").read_text()))
    ours = dict(re.findall(r"--livefeed-([a-z-]+): (#[0-9a-fA-F]+);", (extension / "colors.css").read_text()))
    assert ours == app, "extension/colors.css differs from the app's colors.css: copy it over with the --livefeed- prefix"
    assert json.loads((extension / "manifest.json").read_text())["content_scripts"][0]["css"][0] == "colors.css"
    for name in ("gmail.css", "options.html", "panel.html", "connected.html"):
        text = (extension / name).read_text()
        assert re.findall(r"#[0-9a-fA-F]{3,6}\b", text) == [], f"extension/{name} names a raw colour"
        assert set(re.findall(r"var\(--livefeed-([a-z-]+)\)", text)) <= set(ours), f"extension/{name} uses a colour we lack"
        assert not re.findall(r"var\(--(?!livefeed-)", text), f"extension/{name} uses an unprefixed colour name"
        if name.endswith(".html"):
            assert '<link rel="stylesheet" href="colors.css">' in text


def test_one_set_of_quick_actions():
    import re

    web = PACKAGE / "web"
    pages = {p.name: p.read_text() for p in (web / "templates").glob("*.html")}
    spelled = sorted(name for name, text in pages.items() if "tel_url" in text or 'class="qa">Call' in text)
    assert spelled == ["quick_actions.html"], f"{spelled}: use the quick_actions macro"
    macro = re.findall(r'\("(\w+)", "(\w+)"', (web / "templates" / "quick_actions.html").read_text())
    lists = (web / "static" / "lists.js").read_text()
    body = lists[lists.index("function quickActions") : lists.index("window.livefeedQuickActions")]
    script = re.findall(r'\["(\w+)", "(\w+)"', body)
    assert macro == script == [("call", "Call"), ("email", "Email"), ("linkedin", "LinkedIn")]


def test_web_handlers_and_the_cli_open_no_write_transaction_of_their_own():
    """Every change commits through an action (actions/changes.commit or an action's own
    transaction), so its side effects follow the commit; handlers only read through named queries."""
    sources = [*(PACKAGE / "web").rglob("*.py"), PACKAGE / "cli.py"]
    writers = [str(p.relative_to(PACKAGE)) for p in sources if ".begin()" in p.read_text()]
    assert writers == [], f"{writers} open a write transaction: call an action"
