#!/usr/bin/env python3
"""Write one Markdown page per playbook (playbooks/*.yml) for the docs site.

antsibull-docs documents plugins and roles only, so the playbooks get pages made here, at
every build, from the playbooks themselves: the comment block at the top as the description,
the comment above each play as that play's, a table of the plays (hosts, serial, the roles
they apply, linked to the role pages), and the playbook's source.

Usage: docs_playbooks.py PLAYBOOK_DIR OUT_DIR   (writes OUT_DIR/index.md and OUT_DIR/NAME.md)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

COLLECTION = "ocistack.engine"
ROLE_RE = re.compile(r"^ocistack\.engine\.([a-z0-9_]+)$")


def comment_to_markdown(lines: list[str]) -> str:
    """Comment lines (without '#') to Markdown: paragraphs, '- ' lists, and indented runs kept as code."""
    out: list[str] = []
    block: str | None = None  # "para", "list", "code"
    code: list[str] = []

    def close() -> None:
        nonlocal block
        if block == "code":
            out.extend(["```text", *code, "```"])
            code.clear()
        if block:
            out.append("")
        block = None

    for raw in lines:
        line = raw[1:] if raw.startswith(" ") else raw
        stripped = line.strip()
        if not stripped:
            close()
            continue
        indent = len(line) - len(line.lstrip(" "))
        if stripped.startswith("- "):
            if block != "list":
                close()
                block = "list"
            out.append(stripped)
        elif block == "list" and indent > 0:
            out[-1] += " " + stripped
        elif indent >= 2:
            if block != "code":
                close()
                block = "code"
            code.append(line.rstrip())
        else:
            if block not in ("para", None):
                close()
            if block == "para":
                out[-1] += " " + stripped
            else:
                block = "para"
                out.append(stripped)
    close()
    return "\n".join(out).strip() + "\n"


def play_comments(text: str) -> tuple[list[str], list[list[str]]]:
    """Leading comment of the file and, per play, the comment right above it (empty for the first play)."""
    head: list[str] = []
    per_play: list[list[str]] = []
    pending: list[str] = []
    for line in text.splitlines():
        if line.strip() == "---":
            continue
        if line.startswith("#"):
            pending.append(line[1:])
            continue
        if line.startswith("- "):
            if not per_play:
                head = pending
                per_play.append([])
            else:
                per_play.append(pending)
            pending = []
            continue
        if not line.strip() and not per_play:
            # A blank line inside the header keeps the paragraphs apart.
            pending.append("")
            continue
        pending = []
    return head, per_play


def role_names(play: dict) -> list[str]:
    """The collection roles a play applies, in order: roles: entries and include_role/import_role tasks."""
    names: list[str] = []
    for entry in play.get("roles") or []:
        names.append(entry if isinstance(entry, str) else entry.get("role") or entry.get("name", ""))
    for section in ("pre_tasks", "tasks", "post_tasks"):
        for task in play.get(section) or []:
            for key in ("ansible.builtin.include_role", "ansible.builtin.import_role", "include_role", "import_role"):
                if key in task:
                    names.append(task[key].get("name", ""))
    seen: list[str] = []
    for name in names:
        if name and name not in seen:
            seen.append(name)
    return seen


def role_link(name: str) -> str:
    m = ROLE_RE.match(name)
    if not m:
        return f"`{name}`"
    return f"{{ref}}`{name} <ansible_collections.{COLLECTION}.{m.group(1)}_role>`"


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def playbook_page(path: Path) -> str:
    text = path.read_text()
    plays = yaml.safe_load(text) or []
    head, per_play = play_comments(text)
    name = path.stem
    out = [
        f"(playbook-{name})=",
        "",
        f"# {COLLECTION}.{name} playbook",
        "",
        "```sh",
        f"ansible-playbook -i inventory.ini {COLLECTION}.{name}",
        "```",
        "",
    ]
    if head:
        out += [comment_to_markdown(head), ""]
    out += ["## Plays", "", "| # | play | hosts | roles |", "|---|---|---|---|"]
    for i, play in enumerate(plays, 1):
        hosts = f"`{play.get('hosts', '')}`"
        if "serial" in play:
            hosts += f", serial `{play['serial']}`"
        roles = ", ".join(role_link(r) for r in role_names(play)) or "–"
        out.append(f"| {i} | {cell(play.get('name', ''))} | {cell(hosts)} | {cell(roles)} |")
    out.append("")
    notes = [(i, c) for i, c in enumerate(per_play, 1) if any(x.strip() for x in c)]
    for i, lines in notes:
        out += [f"Play {i}: {comment_to_markdown(lines)}", ""]
    out += [f"## Source: `playbooks/{path.name}`", "", "```yaml", text.rstrip("\n"), "```", ""]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    src, dest = Path(argv[1]), Path(argv[2])
    books = sorted(src.glob("*.yml"))
    if not books:
        print(f"no playbooks in {src}", file=sys.stderr)
        return 1
    dest.mkdir(parents=True, exist_ok=True)
    index = [
        "# Playbooks",
        "",
        f"The collection's playbooks, run as `ansible-playbook -i inventory.ini {COLLECTION}.NAME`.",
        "",
        "```{toctree}",
        ":maxdepth: 1",
        "",
        *[b.stem for b in books],
        "```",
        "",
    ]
    (dest / "index.md").write_text("\n".join(index))
    for book in books:
        (dest / f"{book.stem}.md").write_text(playbook_page(book))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
