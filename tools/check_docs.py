#!/usr/bin/env python3
"""Checks that the documentation cannot drift from the code.

Every ```cpp block of README.md and docs/*.md is a complete translation unit: it is written to a
file and compiled (syntax and types, -Wall -Wextra -Werror) against the library's headers. Every
```json block must parse. Every relative Markdown link must point at a file or folder that exists.
Exit status 1 lists every failure; the CTest test `docs` runs this script.

Usage: check_docs.py --cxx COMPILER --source-dir DIR --out DIR [--flag=FLAG ...]
"""
import argparse
import json
import pathlib
import re
import subprocess
import sys

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def documents(source_dir):
    return [source_dir / "README.md", *sorted((source_dir / "docs").glob("*.md"))]


def line_of(text, offset):
    return text.count("\n", 0, offset) + 1


def check_cpp(code, where, args, out_dir, index):
    path = out_dir / f"{where.replace('/', '_').replace(':', '_')}_{index}.cpp"
    path.write_text(code)
    command = [args.cxx, "-std=c++20", "-fsyntax-only", "-Wall", "-Wextra", "-Werror",
               f"-I{args.source_dir / 'include'}", *args.flag, str(path)]
    result = subprocess.run(command, capture_output=True, text=True)
    return [] if result.returncode == 0 else [f"{where}: C++ block does not compile:\n{result.stderr}"]


def check_document(doc, args, out_dir):
    text = doc.read_text()
    rel = doc.relative_to(args.source_dir).as_posix()
    failures, compiled = [], 0
    for index, match in enumerate(FENCE.finditer(text)):
        language, body = match.group(1), match.group(2)
        where = f"{rel}:{line_of(text, match.start())}"
        if language == "cpp":
            failures += check_cpp(body, where, args, out_dir, index)
            compiled += 1
        elif language == "json":
            try:
                json.loads(body)
            except json.JSONDecodeError as error:
                failures.append(f"{where}: JSON block does not parse: {error}")
    for match in LINK.finditer(text):
        target = match.group(1)
        if "://" in target or target.startswith("mailto:"):
            continue
        if not (doc.parent / target).exists():
            failures.append(f"{rel}:{line_of(text, match.start())}: link to missing {target}")
    return failures, compiled


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cxx", required=True)
    parser.add_argument("--source-dir", required=True, type=pathlib.Path)
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("--flag", action="append", default=[], help="extra compiler flag (repeatable)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    failures, compiled = [], 0
    for doc in documents(args.source_dir):
        doc_failures, doc_compiled = check_document(doc, args, args.out)
        failures += doc_failures
        compiled += doc_compiled
    for failure in failures:
        print(failure, file=sys.stderr)
    print(f"check_docs: {compiled} C++ blocks compiled, {len(failures)} failures")
    if compiled == 0:
        print("check_docs: no C++ block found: the extraction is broken", file=sys.stderr)
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
