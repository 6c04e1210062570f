"""MkDocs hooks (mkdocs.yml ``hooks:``): the reference pages made from the code at build time,
so they cannot fall behind it, and a nav that tolerates a guide not written yet.

* ``reference/cli.md`` — every ``dingstore`` command, argument and flag, walked from the Typer
  app (``dingstore.cli.main``) through Click's own objects.
* ``reference/api.md`` — every operation of ``/openapi.json`` (``create_app(...).openapi()``),
  by tag, with its parameters and body; ``reference/openapi.json`` — the document itself.
* ``benchmarks.md`` — bench/README.md, which guides link to (``OUTSIDE``).
* A nav entry naming a page that is not in ``docs/`` is left out with a note on the log (not a
  warning: ``--strict`` would fail on one), so pages written elsewhere join the site when they
  land.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.dingstore")


# --- the nav -------------------------------------------------------------------------------------


def _present(entries: list[Any], docs: Path) -> list[Any]:
    kept: list[Any] = []
    for entry in entries:
        if isinstance(entry, dict):
            (title, target), *_ = entry.items()
            if isinstance(target, list):
                inner = _present(target, docs)
                if inner:
                    kept.append({title: inner})
                continue
        else:
            target = entry
        written = not isinstance(target, str) or (docs / target).exists() or target in GENERATED
        if not written:
            log.info("nav: %s is not written yet; left out", target)
            continue
        kept.append(entry)
    return kept


def on_config(config: Any) -> Any:
    config["nav"] = _present(config["nav"], Path(config["docs_dir"]))
    return config


# --- generated pages ---------------------------------------------------------------------------


def _cli_page() -> str:
    import typer.main

    from dingstore.cli import main

    lines = [
        "# CLI commands",
        "",
        "Every command of `dingstore`, its arguments and flags, as `dingstore COMMAND --help`",
        "describes them (generated from the code at each build of this site). The settings that",
        "flags and `DINGSTORE_*` variables both set: [Settings and flags](../configuration.md).",
        "",
    ]

    def walk(command: Any, path: list[str]) -> None:
        if getattr(command, "hidden", False):
            return
        name = " ".join(path)
        subcommands = {}
        if hasattr(command, "list_commands"):  # a group; cli/main.py loads some lazily
            subcommands = {n: command.get_command(None, n) for n in command.list_commands(None)}
        lines.extend([f"## `{name}`", ""])
        if command.help:
            lines.extend([_plain(command.help), ""])
        params = [p for p in command.params if not getattr(p, "hidden", False)]
        usage = " ".join(
            [name, "[OPTIONS]" if params else "", "COMMAND" if subcommands else ""]
            + [p.name.upper() for p in params if not getattr(p, "opts", [""])[0].startswith("-")]
        )
        lines.extend(["```text", " ".join(usage.split()), "```", ""])
        if params:
            lines.extend(["| argument or flag | default | meaning |", "|---|---|---|"])
            lines.extend(_param_row(param) for param in params)
            lines.append("")
        if subcommands:
            lines.extend(["| command | what it does |", "|---|---|"])
            for sub, child in subcommands.items():
                summary = _plain(child.help or "").split(". ")[0].rstrip(".")
                lines.append(f"| [`{sub}`](#{_anchor(f'{name} {sub}')}) | {summary} |")
            lines.append("")
        for sub, child in subcommands.items():
            walk(child, [*path, sub])

    walk(typer.main.get_command(main.app), ["dingstore"])
    return "\n".join(lines) + "\n"


def _anchor(title: str) -> str:
    """The id the toc extension gives a heading ``## `title` ``."""
    return "-".join(title.lower().replace("-", " ").split()).replace(" ", "-")


def _plain(text: str) -> str:
    """Help text as Markdown: rich markup dropped, paragraphs kept."""
    text = re.sub(r"\[/?[a-z ]+\]", "", text)
    return "\n\n".join(" ".join(part.split()) for part in text.strip().split("\n\n"))


def _param_row(param: Any) -> str:
    opts = [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]
    if opts and opts[0].startswith("-"):
        names = " / ".join(f"`{o}`" for o in opts)
        if not getattr(param, "is_flag", False):
            names += f" `{(param.metavar or param.name).upper()}`"
    else:
        names = f"`{param.name.upper()}`"
    helptext = _plain(getattr(param, "help", None) or "")
    default = param.default
    if param.required:
        shown = "required"
    elif default is None or default in ((), False) or callable(default):
        shown = ""
    else:
        shown = f"`{default}`"
    escaped = helptext.replace("|", "\\|")
    return f"| {names} | {shown} | {escaped} |"


def _openapi() -> dict[str, Any]:
    from dingstore.api.app import create_app
    from dingstore.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:  # nothing is opened: the app is not started
        document: dict[str, Any] = create_app(Settings(data_dir=Path(tmp))).openapi()
    return document


def _schema_name(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[`{name}`](#{name.lower()})"
    if "anyOf" in schema:
        return " or ".join(_schema_name(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"array of {_schema_name(schema.get('items', {}))}"
    kind = schema.get("type", "any")
    return f"`{kind}`" + (f" ({schema['format']})" if "format" in schema else "")


def _api_page(document: dict[str, Any]) -> str:
    lines = [
        "# API",
        "",
        f"dingstore {document['info']['version']} answers {_count(document)} operations. This",
        "page is generated at each build from the same OpenAPI document a running server",
        "answers at `GET /openapi.json` ([the document](openapi.json), as of this build).",
        "",
        "## The API browser",
        "",
        "A running server shows the document as an interactive page at **`/docs`**",
        "(`http://127.0.0.1:8080/docs` with the defaults): every operation with its",
        "parameters, bodies and answers, and *Try it out* to call it from the browser. Its",
        "script and styles are served by dingstore itself: it works without internet access.",
        "",
        "![The API browser](../images/api-browser.png)",
        "",
        "To call an operation from it: *Try it out* on **GetAccessToken**",
        "(`POST /v1.0/oauth2/accessToken`) with the app's `appKey` and `appSecret`, copy the",
        "`accessToken` of the answer into **Authorize** (the `x-acs-dingtalk-access-token`",
        "header), and every call the page makes carries it from then on, across reloads of the",
        "page too. Storage operations also want the operator's `unionId`.",
        "",
    ]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in document["paths"].items():
        for method, op in item.items():
            tag = (op.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).append((method.upper(), path, op))
    for tag, operations in by_tag.items():
        lines.extend([f"## {tag[:1].upper()}{tag[1:]}", ""])
        for method, path, op in operations:
            lines.extend([f"### {op.get('operationId', path)}", "", f"`{method} {path}`", ""])
            if op.get("description"):
                lines.extend([op["description"].strip(), ""])
            if op.get("security"):
                lines.extend(["Needs the app's token (`x-acs-dingtalk-access-token`).", ""])
            params = op.get("parameters", [])
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if params or body:
                lines.append("| parameter | in | required | type | meaning |")
                lines.append("|---|---|---|---|---|")
                for p in params:
                    required = "yes" if p.get("required") else ""
                    lines.append(
                        f"| `{p['name']}` | {p['in']} | {required} | "
                        f"{_schema_name(p.get('schema', {}))} | {p.get('description', '')} |"
                    )
                if body:
                    required = "yes" if op["requestBody"].get("required") else ""
                    lines.append(f"| body | body | {required} | {_schema_name(body['schema'])} | |")
                lines.append("")
            answers = [
                f"`{status}` {_schema_name(r['content']['application/json']['schema'])}"
                if "application/json" in r.get("content", {})
                else f"`{status}`"
                for status, r in op.get("responses", {}).items()
                if status != "422"  # FastAPI's default; dingstore answers paramError (400)
            ]
            lines.extend(["Answers: " + ", ".join(answers) + ".", ""])
    lines.extend(["## Schemas", ""])
    for name, schema in document["components"]["schemas"].items():
        if name in ("HTTPValidationError", "ValidationError"):
            continue
        lines.extend([f"### {name}", ""])
        properties = schema.get("properties", {})
        if not properties:
            lines.extend([_schema_name(schema), ""])
            continue
        needed = set(schema.get("required", []))
        lines.extend(["| field | required | type | meaning |", "|---|---|---|---|"])
        for field, sub in properties.items():
            lines.append(
                f"| `{field}` | {'yes' if field in needed else ''} | {_schema_name(sub)} | "
                f"{sub.get('description', '')} |"
            )
        lines.append("")
    return "\n".join(lines) + "\n"


def _outside(config: Any, target: str) -> str:
    return (Path(config["docs_dir"]) / target).resolve().read_text()


def _count(document: dict[str, Any]) -> int:
    return sum(len(item) for item in document["paths"].values())


GENERATED = {"reference/cli.md", "reference/api.md", "benchmarks.md"}
# Pages of the repository outside docs/ that docs/ links to: put on the site under a name of
# their own, and the links rewritten to it (the files keep links that work in the repository).
OUTSIDE = {"../bench/README.md": "benchmarks.md"}


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    for target, name in OUTSIDE.items():
        if f"]({target}" in markdown:
            depth = page.file.src_uri.count("/")
            markdown = markdown.replace(f"]({target}", f"]({'../' * depth}{name}")
    return markdown


def on_files(files: Files, config: Any) -> Files:
    document = _openapi()
    for uri, content in (
        ("reference/cli.md", _cli_page()),
        ("reference/api.md", _api_page(document)),
        ("reference/openapi.json", json.dumps(document, indent=2)),
        *((name, _outside(config, target)) for target, name in OUTSIDE.items()),
    ):
        files.append(File.generated(config, uri, content=content))
    return files
