"""The shortcut report's link in a project's labeling instructions: the one text Label Studio shows as HTML (its
*Instructions* button while labeling), so a click there opens ``/report``. The project manager's own instructions
stay as they are; only our paragraph, marked by its class (Label Studio's sanitiser keeps ``class``, ``href`` and
``rel``, and drops comments and ``target``), is replaced on every push."""
from __future__ import annotations

import re
from html import escape
from urllib.parse import urlencode

MARK = "attention-guidance-report"  # the class of our paragraph
_BLOCK = re.compile(rf'<p class="{MARK}"[^>]*>.*?</p>', re.S)


def report_address(public_url: str, project_id: int) -> str:
    """Where a browser finds the project's shortcut report."""
    return f"{public_url.rstrip('/')}/report?{urlencode({'project': int(project_id)})}"


def with_report_link(instruction: str | None, address: str, version: str) -> str:
    """``instruction`` with our paragraph naming ``version`` and linking ``address``: put where the last one was
    (any others removed), else appended."""
    block = (f'<p class="{MARK}">Shortcut report of model version {escape(version)}: '
             f'<a href="{escape(address)}" rel="noopener noreferrer">{escape(address)}</a></p>')
    text = instruction or ""
    found = list(_BLOCK.finditer(text))
    if not found:
        return f"{text.rstrip()}\n{block}" if text.strip() else block
    last = found[-1]
    return _BLOCK.sub("", text[: last.start()]) + block + text[last.end():]
