"""core/ decides and imports nothing from the I/O world: only the standard library."""

import ast
import sys
from pathlib import Path

import livefeed.core

CORE = Path(livefeed.core.__file__).parent


def test_core_imports_only_the_standard_library_and_itself():
    for path in CORE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: must stay inside core
                    assert node.level == 1, f"{path.name} reaches outside core"
                    continue
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top == "__future__", f"{path.name} imports {name}"
