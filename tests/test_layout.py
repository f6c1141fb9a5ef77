"""The house's rules, read off the code: imports run one way (tipwatch → crawler, alerts →
pipeline, nothing back), and only the configuration reads the environment."""
import ast
from pathlib import Path

from conftest import REPO

PACKAGES = ("tipwatch", "crawler", "alerts", "pipeline")
MAY_IMPORT = {"tipwatch": {"crawler", "alerts", "pipeline"}, "crawler": {"pipeline"}, "alerts": {"pipeline"},
              "pipeline": set()}


def imports(path: Path):
    """(line, module) of every absolute import in the file, function-level ones included."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def modules(package: str):
    return sorted((REPO / package).rglob("*.py"))


def test_imports_run_one_way():
    backwards = [f"{path.relative_to(REPO)}:{line} imports {name}"
                 for package in PACKAGES for path in modules(package) for line, name in imports(path)
                 if name.split(".")[0] in PACKAGES and name.split(".")[0] not in MAY_IMPORT[package] | {package}]
    assert backwards == []


def test_the_layout_check_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from tipwatch.config import load\n")
    assert list(imports(module)) == [(2, "tipwatch.config")]


def test_only_the_configuration_reads_the_environment():
    readers = [f"{path.relative_to(REPO)}:{node.lineno}"
               for package in PACKAGES for path in modules(package) if path != REPO / "tipwatch" / "config.py"
               for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
               if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv"}
               and isinstance(node.value, ast.Name) and node.value.id == "os"]
    assert readers == []
