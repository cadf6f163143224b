"""Print the `hwsolve ...` commands of a Markdown file's code blocks, one a line, comments cut.

Code blocks are fenced (```) or indented by four spaces; a leading `$ ` prompt is dropped. Used by
tools/check_package.sh to run the README's examples from a clean install.
"""

import re
import sys


def commands(text: str) -> list[str]:
    out, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not (fenced or line.startswith("    ")):
            continue
        m = re.match(r"^\s*(?:\$ )?(hwsolve\s.*)$", line)
        if m:
            cmd = re.sub(r"\s+#.*$", "", m.group(1)).strip()
            if cmd not in out:
                out.append(cmd)
    return out


if __name__ == "__main__":
    print("\n".join(commands(open(sys.argv[1], encoding="utf-8").read())))
