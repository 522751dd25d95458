"""The house rules, checked on the source: imports run one way (pages → ui → aecore's services → engine →
models → foundations), no module imports another that imports it back (at any depth, function-level imports
included), aecore never imports Streamlit or the app, and no source file outside the tests passes 300 lines."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Lowest first. A module may import its own layer's modules and any layer below it, never one above.
LAYERS = {
    "foundations": ["aecore.errors", "aecore.config", "aecore.metric_info", "aecore.device", "aecore.data",
                    "aecore.storage", "aecore.cache", "aecore.seeding", "aecore.noise", "aecore.images",
                    "aecore.preprocess", "aecore.paper", "aecore.cpu", "aecore.binarize"],
    "models": ["aecore.models", "aecore"],
    "engine": ["aecore.metrics", "aecore.training", "aecore.optim", "aecore.checkpoint", "aecore.generate",
               "aecore.evolution", "aecore.classifier", "aecore.pipeline", "aecore.metadata", "aecore.budget",
               "aecore.onnx_export", "aecore.likelihood"],
    "services": ["aecore.cli", "aecore.__main__", "aecore.pretrain", "aecore.jobs", "aecore.catalog",
                 "aecore.anomaly", "aecore.projection", "aecore.compare", "aecore.showcase", "aecore.export",
                 "aecore.directions", "aecore.eval", "aecore.ood", "aecore.commands", "aecore.reproduction",
                 "aecore.browser_map"],
    "ui": ["latent_lab.ui"],
    "pages": ["latent_lab.pages", "latent_lab.app"],
}
ORDER = list(LAYERS)


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts if parts[0] == "aecore" else ["latent_lab", *parts])


def sources() -> dict[str, Path]:
    files = [*REPO.glob("aecore/**/*.py"), *REPO.glob("ui/*.py"), *REPO.glob("pages/*.py"), REPO / "app.py"]
    return {module_name(p): p for p in files}


def layer_of(module: str) -> str:
    best = max(((prefix, layer) for layer, prefixes in LAYERS.items() for prefix in prefixes
                if module == prefix or module.startswith(prefix + ".")), key=lambda pl: len(pl[0]), default=None)
    assert best is not None, f"{module} belongs to no layer: add it to LAYERS in {Path(__file__).name}"
    return best[1]


def imports(path: Path, known: set[str]) -> set[str]:
    """The project's modules a file imports, anywhere in it (function-level imports too)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                out.add(full if full in known else node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return {m for m in out if m.split(".")[0] in ("aecore", "latent_lab", "streamlit")}


def graph() -> dict[str, set[str]]:
    src = sources()
    return {name: imports(path, set(src)) - {name} for name, path in src.items()}


def test_imports_run_one_way():
    upward = []
    for module, targets in graph().items():
        for target in targets:
            if target.startswith("streamlit"):
                continue
            if ORDER.index(layer_of(target)) > ORDER.index(layer_of(module)):
                upward.append(f"{module} ({layer_of(module)}) imports {target} ({layer_of(target)})")
    assert not upward, "\n".join(upward)


def test_no_import_circle():
    edges = {m: {t for t in ts if not t.startswith("streamlit")} for m, ts in graph().items()}
    # A package's own __init__ importing its submodules is how packages work; the reverse closes a circle.
    edges = {m: {t for t in ts if t in edges} for m, ts in edges.items()}
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    assert not circles, circles


def test_aecore_never_imports_streamlit_or_the_app():
    bad = [f"{m} imports {t}" for m, ts in graph().items() if m.split(".")[0] == "aecore"
           for t in ts if t.split(".")[0] in ("streamlit", "latent_lab")]
    assert not bad, bad


def test_no_source_file_outside_the_tests_passes_300_lines():
    files = [*sources().values(), *REPO.glob("bench/*.py"), *REPO.glob("scripts/*.py")]
    long = {str(p.relative_to(REPO)): n for p in files if (n := len(p.read_text().splitlines())) > 300}
    assert not long, long
